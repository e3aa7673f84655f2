import { BtfkitError } from '../errors/index.ts';
import { commands } from './commands/index.ts';

/**
 * `btfkit <command> [args]`. Each command lives in commands/<name>.ts and parses its own
 * arguments (node:util parseArgs); this file only dispatches and turns errors into exit codes.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write('btfkit 0.1.0\n');
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`btfkit: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const command = await entry.load();
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof BtfkitError) {
      process.stderr.write(`btfkit ${name}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`btfkit ${name}: ${e.message}\n${command.usage}\n`);
      return 2;
    }
    throw e;
  }
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `usage: btfkit <command> [options]\n\ncommands:\n${commands
    .map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`)
    .join('\n')}\n\nRun 'btfkit <command> --help' for a command's options.\n`;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli/main.ts')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(
        `btfkit: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
      process.exitCode = 70;
    },
  );
}
