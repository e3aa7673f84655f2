/**
 * One private temp folder per `pnpm test` run. Every test (and every process it starts)
 * inherits TMPDIR pointing into it, so `mkdtempSync(join(tmpdir(), ...))` lands there; the
 * folder goes when the run ends, whatever a test forgot or a crash left behind. Tests still
 * remove what they make as they go: this is the net under them, not the habit.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'btfkit-test-run-'));
  // As /tmp is (world-writable, sticky): a test that runs a child as another user
  // (runtime-process drops to nobody) hands it paths inside, and the child's own tools (tsx's
  // cache) make their folders in TMPDIR; mkdtemp's 0700 would refuse both.
  chmodSync(root, 0o1777);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    const left = readdirSync(root);
    if (process.env.BTFKIT_TEST_REPORT_TEMP && left.length > 0)
      console.warn(`tests left ${left.length} entries in their temp folder: ${left.slice(0, 10).join(', ')}`);
    rmSync(root, { recursive: true, force: true });
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  };
}
