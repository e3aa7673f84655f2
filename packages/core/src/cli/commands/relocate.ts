import { parseArgs } from 'node:util';
import { isFailed, isPoisoned, oracleLines, type Relocation, relocateObject } from '../../core/index.ts';
import { parseBpfObject } from '../../elf/index.ts';
import { errors } from '../../errors/index.ts';
import { readInput } from '../../io/input.ts';
import { readBtfSource } from '../../kernels/index.ts';
import { libbpfOption, libbpfUsage, libbpfVersionOf } from '../libbpf-option.ts';
import { writeStdoutSync } from '../stdout-sync.ts';
import type { Command } from './types.ts';

const usage = `usage: btfkit relocate [--json] [--base BASE] [--release NAME] [--libbpf VER] OBJECT TARGET

Applies the CO-RE relocations of OBJECT against the kernel BTF TARGET and prints what
libbpf (1.1 unless --libbpf says otherwise) would do with each one, in libbpf's order.
TARGET: raw BTF, a vmlinux or BPF object ELF, a btfhub .btf.tar.xz, /sys/kernel/btf/vmlinux.
  --json          one JSON object per line, exactly as core-oracle prints them
                  (prog, relo, kind, insn, class, field, from, to | poison | error)
  --base BASE     TARGET is a kernel module's split BTF over BASE (vmlinux). As libbpf
                  does, a local type's candidates come from BASE, and from the module
                  only when BASE has none
  --release NAME  kernel release named in explanations (default: from a btfhub name)
${libbpfUsage(18)}
Exit status 1 when libbpf would refuse to load the object.
`;

export const relocate: Command = {
  name: 'relocate',
  summary: "show libbpf's CO-RE decision for every relocation of an object against a kernel",
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        base: { type: 'string' },
        release: { type: 'string' },
        ...libbpfOption,
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    const [objectPath, targetPath, ...extra] = positionals;
    if (objectPath === undefined || targetPath === undefined || extra.length > 0) {
      throw errors.badOption(`expected OBJECT and TARGET\n${usage}`);
    }
    const libbpf = libbpfVersionOf(values.libbpf);
    const obj = parseBpfObject(readInput(objectPath, 'BPF object'), objectPath);
    const base = values.base === undefined ? undefined : (await readBtfSource(values.base)).btf;
    const target = await readBtfSource(targetPath, { base });
    const release = values.release ?? target.release;
    const res = base
      ? relocateObject(obj, base, { release, modules: [target.btf], libbpf })
      : relocateObject(obj, target.btf, { release, libbpf });
    const out = values.json ? res.relocations.flatMap(oracleLines) : table(res.relocations);
    writeStdoutSync(out.length > 0 ? `${out.join('\n')}\n` : '');
    return res.failed ? 1 : 0;
  },
};

/** A table for people: program, instruction, kind, the C expression, and what happened. */
function table(relocations: readonly Relocation[]): string[] {
  const rows = relocations.map((r) => {
    const o = r.outcome;
    let what: string;
    if (isFailed(o)) what = `ERROR ${o.error}`;
    else if (isPoisoned(o)) what = `POISON ${o.reason}`;
    else what = `${o.from} → ${o.to}${o.memSize ? ` (${o.memSize.from}→${o.memSize.to} bytes)` : ''}`;
    return [r.prog, r.insn < 0 ? '-' : String(r.insn), r.kind, r.cPath, what];
  });
  const header = ['PROG', 'INSN', 'KIND', 'C PATH', 'RESULT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const fmt = (row: string[]) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}
