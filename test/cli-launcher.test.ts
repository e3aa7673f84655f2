import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
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

  /** The code caches of `command` (`min-core-btf`, `min-core-btf.kernels`, ...) in the bundle's directory. */
  const cachesOf = (command: string) =>
    readdirSync(cache)
      .filter(
        (f) =>
          f.startsWith(`main.${command}.`) &&
          /^\d+-\d+-\d+\.v8cache$/.test(f.slice(`main.${command}.`.length)),
      )
      .map((f) => join(cache, f));
  const clearCaches = (command: string) => {
    for (const f of cachesOf(command)) rmSync(f, { force: true });
  };
  /** The one cache of `command` (fails when there is none or more than one). */
  const onlyCache = (command: string) => {
    const all = cachesOf(command);
    expect(all).toHaveLength(1);
    return all[0] as string;
  };

  it('one kernel and a --kernels batch keep code caches of their own', () => {
    const archive = kernelArchives().find((a) => releaseOf(a) === '6.1.0-47-cloud-arm64') as string;
    const object = join(CORPUS, 'objects/opensnoop.bpf.o');
    const expected = readFileSync(join(CORPUS, 'expected/min', releaseOf(archive), 'opensnoop.btf'));
    clearCaches('min-core-btf');
    clearCaches('min-core-btf.kernels');
    const out = join(cache, 'one.btf');
    expect(launch(['min-core-btf', '-q', archive, out, object]).status).toBe(0);
    expect(readFileSync(out).equals(expected)).toBe(true);
    const single = onlyCache('min-core-btf');
    const made = readFileSync(single);
    expect(cachesOf('min-core-btf.kernels')).toEqual([]);
    const dir = join(cache, 'batch-cache');
    expect(launch(['min-core-btf', '-q', '--kernels', archive, '--out-dir', dir, object]).status).toBe(0);
    expect(readFileSync(join(dir, 'debian/12/arm64', `${releaseOf(archive)}.btf`)).equals(expected)).toBe(
      true,
    );
    // The batch wrote its own (it runs other functions) and left the single kernel's as it was.
    expect(statSync(onlyCache('min-core-btf.kernels')).size).toBeGreaterThan(1000);
    expect(readFileSync(onlyCache('min-core-btf')).equals(made)).toBe(true);
  });

  it('a batch with workers writes a code cache the next run accepts', () => {
    // The workers' heap flags (and gc exposure) are V8's process-wide flags, which V8 hashes
    // into a code cache: left changed, every next run refused the cache and wrote it again.
    const archives = kernelArchives().slice(0, 2);
    const object = join(CORPUS, 'objects/opensnoop.bpf.o');
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
      expect(r.status, r.stderr.toString()).toBe(0);
    };
    clearCaches('min-core-btf.kernels');
    run();
    const batch = onlyCache('min-core-btf.kernels');
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
    const dumpCaches = () => readdirSync(cache).filter((f) => /^main\.dump\..*\.v8cache$/.test(f));
    for (const f of dumpCaches()) rmSync(join(cache, f), { force: true });
    const first = launch(['dump', archive]);
    expect(first.status).toBe(0);
    expect(dumpCaches()).toHaveLength(1);
    const cacheFile = join(cache, dumpCaches()[0] as string);
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

  it('never runs a cache made for another bundle of the same length', () => {
    // V8 checks a code cache against its source by length only: a rebuilt bundle of the
    // same length once ran the old bundle's bytecode. Here a copy of the bundle gets a cache,
    // then one same-length string in it changes; its output must change with it.
    const dir = mkdtempSync(join(cache, 'same-length-'));
    copyFileSync(join(cache, 'main.cjs'), join(dir, 'main.cjs'));
    copyFileSync(join(cache, 'package.json'), join(dir, 'package.json'));
    const run = () =>
      spawnSync(
        process.execPath,
        [
          '-e',
          `require(${JSON.stringify(join(ROOT, 'packages/core/bin/run-bundle.cjs'))}).runBundleAsMain(process.argv[1], process.argv.slice(2))`,
          dir,
          '--version',
        ],
        { encoding: 'utf8' },
      );
    expect(run().stdout).toBe('btfkit 0.1.0\n');
    expect(readdirSync(dir).filter((f) => f.endsWith('.v8cache'))).toHaveLength(1);
    const source = readFileSync(join(dir, 'main.cjs'), 'latin1');
    expect(source).toContain('btfkit 0.1.0');
    const changed = source.replaceAll('btfkit 0.1.0', 'BTFKIT 0.1.0');
    expect(changed.length).toBe(source.length);
    for (const write of ['rename', 'in place']) {
      if (write === 'rename') {
        writeFileSync(join(dir, 'main.cjs.new'), changed, 'latin1');
        renameSync(join(dir, 'main.cjs.new'), join(dir, 'main.cjs'));
      } else {
        writeFileSync(join(dir, 'main.cjs'), changed.replaceAll('BTFKIT 0.1.0', 'BtfKit 0.1.0'), 'latin1');
        // The same second as the rename above: only the size and inode would tell them apart.
        utimesSync(join(dir, 'main.cjs'), 1_000_000, 1_000_000);
      }
      const r = run();
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(write === 'rename' ? 'BTFKIT 0.1.0\n' : 'BtfKit 0.1.0\n');
      // One cache per command: the other bundle's is gone.
      expect(readdirSync(dir).filter((f) => f.endsWith('.v8cache'))).toHaveLength(1);
    }
  });
});
