// Write faults and concurrency around the CLI's outputs: file systems that are full or
// read-only, outputs whose directory is a file, standard output on a full device, a batch
// killed in the middle of publishing (link(2) slowed by strace's fault injection), and two
// batches on one --out-dir. Every failure is one line naming what could not be written, exit 1.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { btfkit, expectCleanError, LAUNCHER } from './fixtures/cli.ts';
import { CORPUS } from './fixtures/compat/support.ts';

const KERNELS = join(CORPUS, 'kernels');
const KERNEL = join(KERNELS, 'debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz');
const OBJ_A = join(CORPUS, 'objects/biopattern.bpf.o');
const OBJ_B = join(CORPUS, 'objects/execsnoop.bpf.o');
const root = mkdtempSync(join(tmpdir(), 'btfkit-faults-'));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) spawnSync('umount', [m]);
  rmSync(root, { recursive: true, force: true });
});

/** A tmpfs of its own (root only, as CI runs): `ro` or a size in bytes. */
function tmpfs(name: string, options: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

const sha256 = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Files under `dir` whose names are temp files of an atomic write. */
function temps(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'));
}

/**
 * What a consumer relies on: when manifest.json exists, every file it names (tree path and
 * store file) holds the bytes whose hash it gives.
 */
function manifestMismatches(out: string): string[] {
  const path = join(out, 'manifest.json');
  if (!existsSync(path)) return [];
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as {
    kernels: { path?: string; file?: string; sha256?: string }[];
  };
  const bad: string[] = [];
  for (const k of manifest.kernels) {
    for (const rel of [k.path, k.file]) {
      if (rel === undefined) continue;
      const p = join(out, rel);
      if (!existsSync(p) || sha256(p) !== k.sha256) bad.push(rel);
    }
  }
  return bad;
}

describe('batch on a file system that refuses writes', () => {
  it('read-only: one line naming the output, exit 1, no unhandled rejection', () => {
    const ro = tmpfs('ro', 'ro');
    const r = btfkit(['min-core-btf', '-q', '--kernels', KERNELS, '--out-dir', join(ro, 'out'), OBJ_A]);
    expectCleanError(r);
    expect(r.stderr).toContain(join(ro, 'out'));
  });

  it('full: one line naming the file that did not fit, exit 1, no temp file left', () => {
    const full = tmpfs('full', 'size=4k');
    const out = join(full, 'out');
    const r = btfkit(['min-core-btf', '-q', '--kernels', KERNELS, '--out-dir', out, OBJ_A]);
    expectCleanError(r);
    expect(r.stderr).toMatch(
      new RegExp(`^btfkit min-core-btf: ${out}/btf/[0-9a-f]{16}\\.btf: cannot write: ENOSPC`),
    );
    expect(temps(full)).toEqual([]);
    expect(existsSync(join(out, 'manifest.json'))).toBe(false);
  });
});

describe('outputs whose directory is a file', () => {
  it('OUT/btf is a regular file: one line, exit 1, the file left as it was', () => {
    const out = join(root, 'btf-file');
    mkdirSync(out);
    writeFileSync(join(out, 'btf'), 'mine\n');
    const r = btfkit(['min-core-btf', '-q', '--kernels', KERNEL, '--out-dir', out, OBJ_A]);
    expectCleanError(r);
    expect(r.stderr).toMatch(new RegExp(`${out}/btf/[0-9a-f]{16}\\.btf: cannot write: EEXIST`));
    expect(readFileSync(join(out, 'btf'), 'utf8')).toBe('mine\n');
  });

  it('compat --html under a file: one line, exit 1', () => {
    const file = join(root, 'plain');
    writeFileSync(file, '');
    const r = btfkit(['compat', '--html', join(file, 'report.html'), '--kernels', KERNEL, OBJ_B]);
    expectCleanError(r);
    expect(r.stderr).toMatch(new RegExp(`^btfkit compat: ${file}/report\\.html: cannot write: EEXIST`));
  });
});

describe('standard output on a full device', () => {
  const runs: [string, string[]][] = [
    ['dump', ['dump', KERNEL]],
    ['dump', ['dump', '--format', 'c', KERNEL]],
    ['relocate', ['relocate', OBJ_B, KERNEL]],
    ['compat', ['compat', '--kernels', KERNEL, OBJ_B]],
    ['compat', ['compat', '--json', '--kernels', KERNEL, OBJ_B]],
  ];
  for (const [name, args] of runs) {
    it(`${args.join(' ').replaceAll(CORPUS, 'corpus')} > /dev/full: one line, exit 1`, () => {
      const r = btfkit(args, { prefix: 'exec >/dev/full;' });
      expectCleanError(r);
      expect(r.stderr).toBe(`btfkit ${name}: standard output: cannot write: ENOSPC\n`);
    });
  }

  it('a reader that goes away (EPIPE) still ends quietly', () => {
    for (const args of [runs[0]?.[1], runs[2]?.[1], runs[3]?.[1]] as string[][]) {
      const r = spawnSync(
        'bash',
        ['-c', 'set -o pipefail; "$@" | head -c 1 >/dev/null', 'bash', process.execPath, LAUNCHER, ...args],
        { encoding: 'utf8' },
      );
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });
});

/** Runs a batch under strace with every link(2) held 0.5 s after it is done; resolves on exit. */
function slowLinks(out: string, objects: string[], trace: string) {
  const child = spawn(
    'strace',
    [
      '-f',
      '-o',
      trace,
      '-e',
      'trace=link,linkat',
      '-e',
      'inject=link,linkat:delay_exit=500000',
      process.execPath,
      LAUNCHER,
      'min-core-btf',
      '-q',
      '--kernels',
      KERNELS,
      '--out-dir',
      out,
      ...objects,
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr })),
  );
  return { child, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(20))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

describe('publishing a batch', () => {
  it('killed after its first tree link: no manifest whose hashes do not match its files', async () => {
    const out = join(root, 'publish');
    expect(btfkit(['min-core-btf', '-q', '--kernels', KERNELS, '--out-dir', out, OBJ_A]).status).toBe(0);
    expect(manifestMismatches(out)).toEqual([]);
    const first = join(out, 'debian/11/x86_64/5.10.0-32-amd64.btf');
    const before = statSync(first).ino;
    // The same tree for other objects: every tree link changes.
    const { child, exited } = slowLinks(out, [OBJ_B], join(root, 'publish.trace'));
    await until('the first tree link', () => existsSync(first) && statSync(first).ino !== before);
    process.kill(-(child.pid as number), 'SIGKILL');
    await exited;
    // Killed mid-publish: at least one kernel still has the old file.
    const tree = readdirSync(join(out, 'debian'), { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.btf'),
    );
    expect(tree.length).toBe(7);
    expect(manifestMismatches(out)).toEqual([]);
    // A re-run (taking over the dead batch's lock) publishes the whole new set.
    const again = btfkit(['min-core-btf', '-q', '--kernels', KERNELS, '--out-dir', out, OBJ_B]);
    expect(again.stderr).toMatch(/^min-core-btf: 7 kernels \(0 minimized, 7 already done/);
    expect(again.status).toBe(0);
    expect(existsSync(join(out, 'manifest.json'))).toBe(true);
    expect(manifestMismatches(out)).toEqual([]);
    expect(temps(out)).toEqual([]);
  }, 120_000);

  it('two batches on one --out-dir: the second stops with an error naming the first', async () => {
    const out = join(root, 'two');
    const { exited } = slowLinks(out, [OBJ_A], join(root, 'two.trace'));
    await until('the first batch’s lock', () => existsSync(join(out, '.lock')));
    const holder = Number(readFileSync(join(out, '.lock'), 'utf8'));
    const second = btfkit(['min-core-btf', '-q', '--kernels', KERNELS, '--out-dir', out, OBJ_B]);
    expectCleanError(second);
    expect(second.stderr).toBe(
      `btfkit min-core-btf: ${out}: another btfkit batch (pid ${holder}) is writing this directory; wait for it to finish (its lock is ${out}/.lock)\n`,
    );
    const { code, stderr } = await exited;
    expect(stderr).toMatch(/^min-core-btf: 7 kernels \(7 minimized/);
    expect(code).toBe(0);
    // The first batch's output, whole: objects A's manifest.
    expect(manifestMismatches(out)).toEqual([]);
    const solo = join(root, 'solo');
    expect(btfkit(['min-core-btf', '-q', '--kernels', KERNELS, '--out-dir', solo, OBJ_A]).status).toBe(0);
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe(
      readFileSync(join(solo, 'manifest.json'), 'utf8'),
    );
    expect(existsSync(join(out, '.lock'))).toBe(false);
  }, 120_000);
});
