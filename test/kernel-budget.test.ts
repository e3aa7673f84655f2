// One memory budget for the kernels a run holds (minimize/kernel-budget.ts): each kernel is
// admitted by its inflated size, read from the xz index before it inflates. With a budget
// below one kernel, compat and the batch hold one kernel at a time, so at most one xz(1)
// inflates at any moment (counted from strace's execve/exit records, not from timing); with
// the default budget the corpus's kernels (~5-8 MiB each) inflate side by side.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelFootprint } from '../packages/core/src/minimize/kernel-budget.ts';
import { LAUNCHER } from './fixtures/cli.ts';
import { CORPUS } from './fixtures/compat/support.ts';

const KERNELS = join(CORPUS, 'kernels');
const OBJECT = join(CORPUS, 'objects/biopattern.bpf.o');
const dir = mkdtempSync(join(tmpdir(), 'btfkit-budget-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The most xz(1) processes alive at once in a run traced with strace -f. */
function maxConcurrentXz(args: string[], budgetMb?: number): number {
  const trace = join(dir, `trace-${args[0]}-${budgetMb ?? 'default'}`);
  execFileSync(
    'strace',
    ['-f', '-e', 'trace=execve', '-e', 'signal=none', '-o', trace, process.execPath, LAUNCHER, ...args],
    {
      env: { ...process.env, ...(budgetMb ? { BTFKIT_KERNEL_BUDGET_MB: String(budgetMb) } : {}) },
      stdio: 'ignore',
    },
  );
  const live = new Set<string>();
  let max = 0;
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    const m = /^(\d+) +(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, rest] = m as unknown as [string, string, string];
    if (/^execve\("[^"]*\/xz"/.test(rest) && / = 0$/.test(rest)) {
      live.add(pid);
      max = Math.max(max, live.size);
    } else if (/^\+\+\+ (exited|killed)/.test(rest)) live.delete(pid);
  }
  return max;
}

describe('kernels admitted by inflated size against one budget', () => {
  it('the footprint is the inflated size xz(1) reports', () => {
    const archive = join(KERNELS, 'debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz');
    const list = execFileSync('xz', ['--robot', '--list', archive], { encoding: 'utf8' });
    const total = list
      .split('\n')
      .find((l) => l.startsWith('totals'))
      ?.split('\t')[4];
    expect(kernelFootprint(archive)).toBe(Number(total));
    expect(kernelFootprint(OBJECT)).toBe(readFileSync(OBJECT).length);
  });

  for (const args of [
    ['compat', '--kernels', KERNELS, OBJECT],
    ['min-core-btf', '-q', '--jobs', '1', '--kernels', KERNELS, '--out-dir', join(dir, 'out'), OBJECT],
  ]) {
    it(`${args[0]}: a 1 MiB budget holds one kernel at a time; the default holds several`, () => {
      expect(maxConcurrentXz(args, 1)).toBe(1);
      rmSync(join(dir, 'out'), { recursive: true, force: true });
      expect(maxConcurrentXz(args)).toBeGreaterThan(1);
      rmSync(join(dir, 'out'), { recursive: true, force: true });
    });
  }
});
