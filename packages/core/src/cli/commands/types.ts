/** One `btfkit` subcommand. `run` returns the exit code; it writes its own output. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}
