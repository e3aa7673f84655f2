import type { LibbpfVersion } from '../core/profile.ts';
import { errors } from '../errors/index.ts';
import { kernelSourceName, listKernels } from '../kernels/index.ts';
import { minimizeKernels } from '../minimize/batch/driver.ts';
import { checkOutDir } from '../minimize/batch/store.ts';
import type { KernelOutcome } from '../minimize/batch/types.ts';
import { readObjectFiles } from '../minimize/objects.ts';
import { formatUnsatisfied } from '../minimize/text-report.ts';

/**
 * `btfkit min-core-btf --kernels ... --out-dir OUT OBJECT...`: the batch, with its progress
 * bar, interruption and summary. Apart from commands/min-core-btf.ts so that the single-kernel
 * form loads none of the batch's modules.
 */
export async function runBatch(
  inputs: string[],
  outDir: string,
  objectPaths: string[],
  o: { compat: boolean; quiet: boolean; strict: boolean; jobs: number | undefined; libbpf?: LibbpfVersion },
): Promise<number> {
  checkOutDir(outDir);
  // Everything is checked before anything is written: a bad object or kernel tree is a clear
  // error naming the file, with no output left behind (the batch parses the objects, so
  // checks them, before it writes its first kernel).
  const objectFiles = readObjectFiles(objectPaths);
  // manifest.json names each source relative to its --kernels tree (or the cwd), so the same
  // tree minimized from two checkouts gives the same bytes.
  const kernels = listKernels(inputs).map((k) => ({ ...k, source: kernelSourceName(k.path, inputs) }));
  if (kernels.length === 0) throw errors.notFound(inputs.join(' '), 'expected at least one kernel BTF');

  const tty = process.stderr.isTTY === true;
  const width = 30;
  const bar = (done: number, total: number, last: KernelOutcome) => {
    if (!tty) return;
    const filled = Math.round((done / total) * width);
    process.stderr.write(
      `\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${last.kernel.release}`,
    );
  };
  // Ctrl-C / SIGTERM: stop starting kernels; what is done stays done, a re-run resumes.
  const abort = new AbortController();
  const stop = (sig: NodeJS.Signals) => abort.abort(sig);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let done = 0;
  let res: Awaited<ReturnType<typeof minimizeKernels>>;
  try {
    res = await minimizeKernels({
      outDir,
      kernels,
      objects: objectFiles,
      bpftoolCompat: o.compat,
      libbpf: o.libbpf,
      strict: o.strict,
      jobs: o.jobs,
      signal: abort.signal,
      onProgress: (d, total, last) => {
        done = d;
        bar(d, total, last);
      },
    });
  } catch (e) {
    if (!abort.signal.aborted) throw e;
    if (tty) process.stderr.write('\r\x1b[K');
    process.stderr.write(
      `min-core-btf: interrupted (${String(abort.signal.reason)}): ${done} of ${kernels.length} kernels done in ${outDir}; run again to resume\n`,
    );
    return 130;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (tty) process.stderr.write('\r\x1b[K');

  let failed = 0;
  let incomplete = 0;
  for (const r of res.outcomes) {
    if (r.status === 'failed') {
      failed++;
      process.stderr.write(`btfkit min-core-btf: ${r.error}\n`);
      if (r.unsatisfied.length > 0)
        for (const line of formatUnsatisfied(r.kernel.release, r.unsatisfied))
          process.stderr.write(`${line}\n`);
      continue;
    }
    if (r.unsatisfied.length > 0) {
      incomplete++;
      if (!o.quiet)
        for (const line of formatUnsatisfied(r.kernel.release, r.unsatisfied))
          process.stderr.write(`${line}\n`);
    }
  }
  const written = res.outcomes.filter((r) => r.status === 'written').length;
  const resumed = res.outcomes.filter((r) => r.status === 'resumed').length;
  const t = res.timings;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  process.stderr.write(
    `min-core-btf: ${res.outcomes.length} kernels (${written} minimized, ${resumed} already done, ${failed} failed, ` +
      `${incomplete} with unsatisfied relocations) → ${res.distinctFiles} distinct files in ${outDir} ` +
      `in ${secs(res.wallMs)} (worker time: decompress ${secs(t.decompress)}, decode ${secs(t.decode)}, ` +
      `relocate ${secs(t.relocate)}, emit ${secs(t.emit)})\n`,
  );
  return failed > 0 ? 1 : 0;
}

/**
 * Whether writing `out` would replace `input`: the same file by identity, not by spelling
 * (`/a/../a/x.o`, a symlink or a hard link all name the same inode). A missing OUT is no clash.
 */
