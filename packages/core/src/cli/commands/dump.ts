import { parseArgs } from 'node:util';
import { dumpC } from '../../dump/c.ts';
import { dumpRawTo } from '../../dump/raw.ts';
import { errors } from '../../errors/index.ts';
import { readBtfSource } from '../../kernels/source.ts';
import { writeStdoutSync } from '../stdout-sync.ts';
import type { Command } from './types.ts';

const usage = `usage: btfkit dump [--base BASE] [--format raw|c [--layout-fixes]] FILE

Prints the types of FILE as 'bpftool btf dump file FILE [--base-btf BASE]' does
(bpftool 7.1.0), byte for byte. FILE: raw BTF, a BPF object, a vmlinux ELF or a
btfhub .btf.tar.xz. --format c prints a C header (vmlinux.h) instead.
  --base BASE     the BTF that FILE (split BTF, e.g. a kernel module) extends
  --format FMT    raw (default) or c
  --layout-fixes  with --format c: add mode(byte)/mode(word) to enums whose size C
                  cannot express, as later libbpf does (bpftool 7.1 omits them, and
                  structs embedding a 1-byte enum then get a different layout)
`;

export const dump: Command = {
  name: 'dump',
  summary: 'print a BTF as bpftool btf dump does (raw or C header)',
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        base: { type: 'string' },
        format: { type: 'string', default: 'raw' },
        'layout-fixes': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0) throw errors.badOption(`expected exactly one FILE\n${usage}`);
    const format = values.format;
    if (format !== 'raw' && format !== 'c') throw errors.badOption(`unknown --format '${format}' (raw or c)`);
    const base = values.base === undefined ? undefined : (await readBtfSource(values.base)).btf;
    const { btf } = await readBtfSource(file, base ? { base } : {});
    if (format === 'c') writeStdoutSync(dumpC(btf, { layoutFixes: values['layout-fixes'] === true }));
    else dumpRawTo(btf, writeStdoutSync, { reuseChunks: true });
    return 0;
  },
};
