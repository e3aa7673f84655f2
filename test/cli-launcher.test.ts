import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commands } from '../packages/core/src/cli/commands/index.ts';
import { bpftool, CORPUS, kernelArchives, releaseOf } from './fixtures/btf/corpus.ts';

/**
 * `pnpm btfkit` runs scripts/btfkit.cjs, which bundles the CLI on first use and whenever a
 * source is newer. Here it builds into a temp dir (BTFKIT_CLI_CACHE) and must behave as the
 * CLI does: outputs equal bpftool's, the batch's worker found beside the bundle.
 */
const ROOT = join(import.meta.dirname, '..');
const cache = mkdtempSync(join(tmpdir(), 'btfkit-launcher-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

function launch(args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'scripts/btfkit.cjs'), ...args], {
    env: { ...process.env, BTFKIT_CLI_CACHE: cache },
    maxBuffer: 1 << 26,
  });
}

describe('scripts/btfkit.cjs', () => {
  it('builds the bundle when missing and lists every command with its own summary', async () => {
    const r = launch(['--help']);
    expect(r.status).toBe(0);
    expect(statSync(join(cache, 'main.cjs')).size).toBeGreaterThan(0);
    expect(statSync(join(cache, 'worker.js')).size).toBeGreaterThan(0);
    const help = r.stdout.toString();
    for (const entry of commands) {
      const command = await entry.load();
      expect(command.name).toBe(entry.name);
      expect(command.summary).toBe(entry.summary);
      expect(help).toContain(`${entry.name}  `);
      expect(help).toContain(entry.summary);
    }
  });

  it('rebuilds a bundle older than the sources', () => {
    utimesSync(join(cache, 'main.cjs'), 0, 0);
    expect(launch(['--version']).stdout.toString()).toBe('btfkit 0.1.0\n');
    const source = statSync(join(ROOT, 'packages/core/src/cli/main.ts')).mtimeMs;
    expect(statSync(join(cache, 'main.cjs')).mtimeMs).toBeGreaterThanOrEqual(source);
  });

  it('dump of a corpus kernel archive prints what bpftool prints for its raw BTF', () => {
    const archive = kernelArchives().find((a) => releaseOf(a) === '6.1.0-47-cloud-arm64') as string;
    const dir = mkdtempSync(join(cache, 'raw-'));
    spawnSync('tar', ['-xJf', archive, '-C', dir]);
    const raw = join(dir, `${releaseOf(archive)}.btf`);
    const r = launch(['dump', archive]);
    expect(r.status).toBe(0);
    expect(r.stdout.equals(bpftool(['btf', 'dump', 'file', raw]))).toBe(true);
  });

  it('the batch runs its workers from the bundle and writes bpftool min_core_btf output', () => {
    const archive = kernelArchives().find((a) => releaseOf(a) === '6.1.0-47-cloud-arm64') as string;
    const object = join(CORPUS, 'objects/opensnoop.bpf.o');
    const out = join(cache, 'batch');
    const r = launch(['min-core-btf', '-q', '--kernels', archive, '--out-dir', out, object]);
    expect(r.stderr.toString()).not.toContain('internal error');
    expect(r.status).toBe(0);
    const expected = readFileSync(join(CORPUS, 'expected/min', releaseOf(archive), 'opensnoop.btf'));
    const written = readFileSync(join(out, 'debian/12/arm64', `${releaseOf(archive)}.btf`));
    expect(written.equals(expected)).toBe(true);
  });

  it('one kernel and a --kernels batch keep code caches of their own', () => {
    const archive = kernelArchives().find((a) => releaseOf(a) === '6.1.0-47-cloud-arm64') as string;
    const object = join(CORPUS, 'objects/opensnoop.bpf.o');
    const expected = readFileSync(join(CORPUS, 'expected/min', releaseOf(archive), 'opensnoop.btf'));
    const single = join(cache, 'main.min-core-btf.v8cache');
    const batch = join(cache, 'main.min-core-btf.kernels.v8cache');
    rmSync(single, { force: true });
    rmSync(batch, { force: true });
    const out = join(cache, 'one.btf');
    expect(launch(['min-core-btf', '-q', archive, out, object]).status).toBe(0);
    expect(readFileSync(out).equals(expected)).toBe(true);
    const made = readFileSync(single);
    expect(() => statSync(batch)).toThrow();
    const dir = join(cache, 'batch-cache');
    expect(launch(['min-core-btf', '-q', '--kernels', archive, '--out-dir', dir, object]).status).toBe(0);
    expect(readFileSync(join(dir, 'debian/12/arm64', `${releaseOf(archive)}.btf`)).equals(expected)).toBe(
      true,
    );
    // The batch wrote its own (it runs other functions) and left the single kernel's as it was.
    expect(statSync(batch).size).toBeGreaterThan(1000);
    expect(readFileSync(single).equals(made)).toBe(true);
  });

  it('a batch with workers writes a code cache the next run accepts', () => {
    // The workers' heap flags (and gc exposure) are V8's process-wide flags, which V8 hashes
    // into a code cache: left changed, every next run refused the cache and wrote it again.
    const archives = kernelArchives().slice(0, 2);
    const object = join(CORPUS, 'objects/opensnoop.bpf.o');
    const batch = join(cache, 'main.min-core-btf.kernels.v8cache');
    const run = () => {
      const r = launch([
        'min-core-btf',
        '-q',
        '--jobs',
        '2',
        '--kernels',
        ...archives,
        '--out-dir',
        join(cache, `jobs-${Date.now()}`),
        object,
      ]);
      expect(r.status).toBe(0);
    };
    rmSync(batch, { force: true });
    run();
    const made = readFileSync(batch);
    const mtime = statSync(batch).mtimeMs;
    run();
    expect(statSync(batch).mtimeMs).toBe(mtime);
    expect(readFileSync(batch).equals(made)).toBe(true);
  });

  it('dump into a pipe whose reader stops early (| head -1) exits 0 quietly, and a full pipe is waited for', () => {
    const archive = kernelArchives().find((a) => releaseOf(a) === '6.1.0-47-cloud-arm64') as string;
    const env = { ...process.env, BTFKIT_CLI_CACHE: cache };
    const launcher = join(ROOT, 'scripts/btfkit.cjs');
    const head = spawnSync(
      'bash',
      [
        '-c',
        `"$0" "$1" dump "$2" | head -1; echo "status \${PIPESTATUS[0]}"`,
        process.execPath,
        launcher,
        archive,
      ],
      { env, encoding: 'utf8' },
    );
    expect(head.stdout).toBe(
      "[1] INT 'long unsigned int' size=8 bits_offset=0 nr_bits=64 encoding=(none)\nstatus 0\n",
    );
    expect(head.stderr).toBe('');
    // A slow reader: the writer blocks on the full pipe and every byte still arrives.
    const slow = spawnSync(
      'sh',
      ['-c', `"$0" "$1" dump "$2" | (sleep 1; wc -c)`, process.execPath, launcher, archive],
      {
        env,
        encoding: 'utf8',
      },
    );
    const raw = launch(['dump', archive]).stdout.length;
    expect(Number(slow.stdout.trim())).toBe(raw);
  });

  it('keeps a V8 code cache per command; a stale or corrupt one is replaced, never trusted', () => {
    const archive = kernelArchives().find((a) => releaseOf(a) === '6.1.0-47-cloud-arm64') as string;
    const cacheFile = join(cache, 'main.dump.v8cache');
    rmSync(cacheFile, { force: true });
    const first = launch(['dump', archive]);
    expect(first.status).toBe(0);
    const made = readFileSync(cacheFile);
    expect(made.length).toBeGreaterThan(1000);
    // The next run uses it as it is: same output, cache file untouched.
    const second = launch(['dump', archive]);
    expect(second.stdout.equals(first.stdout)).toBe(true);
    expect(readFileSync(cacheFile).equals(made)).toBe(true);
    // Garbage in the cache: V8 refuses it, the command still prints the same, a good cache replaces it.
    writeFileSync(cacheFile, Buffer.alloc(made.length, 0x5a));
    const third = launch(['dump', archive]);
    expect(third.status).toBe(0);
    expect(third.stdout.equals(first.stdout)).toBe(true);
    expect(readFileSync(cacheFile).equals(Buffer.alloc(made.length, 0x5a))).toBe(false);
    expect(readdirSync(cache).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
