import { type Stats, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { errors } from '../../errors/index.ts';
import { writeFilesAtomic } from '../../minimize/files.ts';
import { minimizeKernelFile } from '../../minimize/kernel-job.ts';
import { readKernelFile } from '../../minimize/kernel-read.ts';
import { parseObjects, readObjectFiles } from '../../minimize/objects.ts';
import { formatUnsatisfied } from '../../minimize/text-report.ts';
import { splitKernelArgs } from '../kernel-args.ts';
import { libbpfOption, libbpfUsage, libbpfVersionOf } from '../libbpf-option.ts';
import type { Command } from './types.ts';

const USAGE = `usage: btfkit min-core-btf [options] KERNEL OUT OBJECT...
       btfkit min-core-btf [options] --kernels DIR|GLOB|FILE... --out-dir OUT OBJECT...

Writes the smallest BTF that resolves every CO-RE relocation of the objects exactly as KERNEL
does. Byte-identical to 'bpftool gen min_core_btf' (bpftool 7.1.0) wherever bpftool succeeds.
KERNEL: raw BTF, a vmlinux ELF, a btfhub .btf.tar.xz, /sys/kernel/btf/vmlinux.

options:
  --base BASE        KERNEL is a module's split BTF over BASE; OUT is then one BTF holding
                     what is needed from both (usable as libbpf's btf_custom_path) ...
  --base-out FILE    ... or, with --base-out, OUT is a split BTF over a minimized BASE
                     written to FILE
  --kernels ...      batch mode: every kernel of these btfhub-archive trees, globs or files
                     (a file named here may be any kernel source: raw BTF, vmlinux ELF,
                     .btf.tar.xz, /sys/kernel/btf/vmlinux; its release is the btfhub name,
                     uname -r for /sys/kernel/btf/vmlinux, else the file name)
  --out-dir OUT      batch mode: write OUT/<distro>/<version>/<arch>/<release>.btf, identical
                     results shared as OUT/btf/<sha256-16>.btf, and OUT/manifest.json;
                     the tree and manifest are published only when every kernel succeeded
                     (a failed or interrupted batch publishes none and withdraws an older
                     one); finished kernels stay in OUT/btf and OUT/.stamps, and a re-run
                     resumes from them (kernels already done are skipped)
  --jobs N           batch mode: worker threads (default: half the cores; each keeps xz(1) busy beside it)
  --bpftool-compat   fail where bpftool fails (FWD or TYPE_TAG reached by marking; with
                     --libbpf 1.1, bpftool 7.1.0's libbpf also refuses negative indices)
${libbpfUsage(21)}
  --strict           write nothing for a kernel that cannot satisfy every relocation
  -q, --quiet        do not list relocations the kernel cannot satisfy
`;

async function run(argv: string[]): Promise<number> {
  const { rest, kernels } = splitKernelArgs(argv);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      base: { type: 'string' },
      'base-out': { type: 'string' },
      'out-dir': { type: 'string' },
      jobs: { type: 'string' },
      'bpftool-compat': { type: 'boolean' },
      strict: { type: 'boolean' },
      ...libbpfOption,
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const compat = values['bpftool-compat'] === true;
  const quiet = values.quiet === true;
  const strict = values.strict === true;
  const libbpf = libbpfVersionOf(values.libbpf);

  if (kernels.length > 0 || values['out-dir'] !== undefined) {
    const outDir = values['out-dir'];
    if (outDir === undefined) throw errors.badOption('--kernels needs --out-dir OUT');
    if (kernels.length === 0) throw errors.badOption('--out-dir needs --kernels DIR|GLOB|FILE...');
    if (values.base !== undefined || values['base-out'] !== undefined) {
      throw errors.badOption('--base/--base-out apply to a single KERNEL, not to --kernels');
    }
    if (positionals.length === 0) throw errors.badOption(`expected at least one OBJECT\n${USAGE}`);
    const jobs = values.jobs === undefined ? undefined : Number.parseInt(values.jobs, 10);
    if (jobs !== undefined && !(jobs > 0))
      throw errors.badOption(`--jobs expects a positive number, got '${values.jobs}'`);
    // The batch's modules (worker threads, tree listing, hashing) load only for batches.
    const { runBatch } = await import('../min-core-btf-batch.ts');
    return runBatch(kernels, outDir, positionals, { compat, quiet, strict, jobs, libbpf });
  }

  if (values.jobs !== undefined) throw errors.badOption('--jobs applies to --kernels batches');
  const [kernel, out, ...objectPaths] = positionals;
  if (kernel === undefined || out === undefined || objectPaths.length === 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (values['base-out'] !== undefined && values.base === undefined)
    throw errors.badOption('--base-out needs --base BASE');
  const inputs = [kernel, values.base, ...objectPaths].filter((x) => x !== undefined);
  for (const o of [out, values['base-out']]) {
    if (o === undefined) continue;
    const clash = inputNamedBy(o, inputs);
    if (clash !== undefined) throw errors.badOption(`refusing to overwrite input file ${clash} with ${o}`);
  }

  // The kernel first: a missing one is the first error (kernel-read.ts says why not async).
  const kernelRead = readKernelFile(kernel);
  const objects = parseObjects(readObjectFiles(objectPaths));
  const result = minimizeKernelFile(kernel, objects, {
    bpftoolCompat: compat,
    libbpf,
    base: values.base,
    splitOutput: values['base-out'] !== undefined,
    kernelRead,
  });
  // Formatted only when shown: naming each record's program reads the object's symbols.
  if (!quiet)
    for (const line of formatUnsatisfied(result.release ?? kernel, result.unsatisfied))
      process.stderr.write(`${line}\n`);
  if (strict && result.unsatisfied.length > 0) {
    process.stderr.write(`btfkit min-core-btf: --strict: ${out} not written\n`);
    return 1;
  }
  const files = [{ path: out, bytes: result.bytes }];
  if (values['base-out'] !== undefined && result.baseBytes)
    files.push({ path: values['base-out'], bytes: result.baseBytes });
  writeFilesAtomic(files);
  return 0;
}

/**
 * The input that `out` also names (the same file by device and inode: through `..`, a
 * symlink or a hard link), if any. A missing OUT names none, and costs one stat.
 */
function inputNamedBy(out: string, inputs: readonly string[]): string | undefined {
  const o = statOrNothing(out);
  if (o === undefined) return undefined;
  return inputs.find((i) => {
    const s = statOrNothing(i);
    return s !== undefined && s.dev === o.dev && s.ino === o.ino;
  });
}

/** Nothing for a path that cannot be stat'ed: reading or writing it reports why, later. */
function statOrNothing(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

export const minCoreBtf: Command = {
  name: 'min-core-btf',
  summary: 'minimize kernel BTF for CO-RE objects (bpftool gen min_core_btf, plus modules and batches)',
  usage: USAGE,
  run,
};
