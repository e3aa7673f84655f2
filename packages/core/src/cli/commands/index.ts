import type { Command } from './types.ts';

/**
 * A registered subcommand as the dispatcher sees it: name and summary for `btfkit --help`,
 * and `load` to import its module only when it runs. Start-up then pays for one command's
 * imports (the minimizer's engine, the C printer, ...) instead of all of them.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/** Registered subcommands, in the order `btfkit --help` lists them. */
export const commands: CommandEntry[] = [
  {
    name: 'dump',
    summary: 'print a BTF as bpftool btf dump does (raw or C header)',
    load: async () => (await import('./dump.ts')).dump,
  },
  {
    name: 'min-core-btf',
    summary: 'minimize kernel BTF for CO-RE objects (bpftool gen min_core_btf, plus modules and batches)',
    load: async () => (await import('./min-core-btf.ts')).minCoreBtf,
  },
  {
    name: 'relocate',
    summary: "show libbpf's CO-RE decision for every relocation of an object against a kernel",
    load: async () => (await import('./relocate.ts')).relocate,
  },
  {
    name: 'compat',
    summary: 'which program fails on which kernel, and why (CO-RE at build time)',
    load: async () => (await import('./compat.ts')).compat,
  },
];
