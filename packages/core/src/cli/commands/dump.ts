import { parseArgs } from 'node:util';
import { dumpC } from '../../dump/c.ts';
import { dumpRawTo } from '../../dump/raw.ts';
import { errors } from '../../errors/index.ts';
import { readBtfSource } from '../../kernels/source.ts';
import { libbpfOption, libbpfVersionOf } from '../libbpf-option.ts';
import { writeStdoutSync } from '../stdout-sync.ts';
import type { Command } from './types.ts';

const usage = `usage: btfkit dump [--base BASE] [--libbpf VER] [--format raw|c [--layout-fixes|--unsorted]] FILE

Prints the types of FILE as 'bpftool btf dump file FILE [--base-btf BASE]' does
(bpftool 7.1.0, or 7.7.0 with --libbpf 1.7), byte for byte. FILE: raw BTF, a BPF
object, a vmlinux ELF or a btfhub .btf.tar.xz. --format c prints a C header
(vmlinux.h) instead.
  --base BASE     the BTF that FILE (split BTF, e.g. a kernel module) extends
  --format FMT    raw (default) or c
  --libbpf VER    1.1 (default): bpftool 7.1.0's output; 1.7: bpftool 7.7.0's (for
                  --format c: types sorted, a __ksym/__weak/__bpf_fastcall preamble,
                  mode(byte)/mode(word) on enums, kfunc prototypes; raw is the same)
  --unsorted      with --libbpf 1.7 --format c: types in id order ('format c unsorted')
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
        unsorted: { type: 'boolean' },
        ...libbpfOption,
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
    const libbpf = libbpfVersionOf(values.libbpf);
    if (values.unsorted === true && (format !== 'c' || libbpf !== '1.7'))
      throw errors.badOption('--unsorted applies to --format c with --libbpf 1.7');
    const base = values.base === undefined ? undefined : (await readBtfSource(values.base)).btf;
    const { btf } = await readBtfSource(file, base ? { base } : {});
    if (format === 'c') {
      const layoutFixes = values['layout-fixes'] === true;
      writeStdoutSync(dumpC(btf, { layoutFixes, libbpf, unsorted: values.unsorted === true }));
    } else dumpRawTo(btf, writeStdoutSync, { reuseChunks: true });
    return 0;
  },
};
