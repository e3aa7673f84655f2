import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BtfkitError } from '../errors/index.ts';
import { xzDecompress, xzDecompressAsync } from './xz.ts';

/**
 * Both decoders behind xzDecompress (xz(1) in a child process for large inputs, the in-process
 * addon otherwise or when xz(1) is missing) against xz(1) run by hand: the same bytes out, and
 * the same typed errors on corrupt input, through the sync and the async entry points.
 */
const ROOT = resolve(import.meta.dirname, '../../../..');
const ARCHIVE = join(ROOT, 'test/corpus/kernels/debian/12/x86_64/6.12.111+deb12-cloud-amd64.btf.tar.xz');
const tmp = mkdtempSync(join(tmpdir(), 'btfkit-xz-'));
const saved = { xz: process.env.BTFKIT_XZ, path: process.env.PATH };
afterEach(() => {
  if (saved.xz === undefined) delete process.env.BTFKIT_XZ;
  else process.env.BTFKIT_XZ = saved.xz;
  process.env.PATH = saved.path;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const bytes = new Uint8Array(readFileSync(ARCHIVE));
const expected = execFileSync('xz', ['-dc', ARCHIVE], { maxBuffer: 1 << 28 });

async function errorOf(fn: () => unknown): Promise<BtfkitError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof BtfkitError) return e;
    throw e;
  }
  throw new Error('expected a BtfkitError');
}

describe.each(['tool', 'lib'])('BTFKIT_XZ=%s', (mode) => {
  it('inflates a corpus archive to what xz -dc writes', async () => {
    process.env.BTFKIT_XZ = mode;
    expect(Buffer.from(xzDecompress(bytes, ARCHIVE)).equals(expected)).toBe(true);
    expect(Buffer.from(await xzDecompressAsync(bytes, ARCHIVE)).equals(expected)).toBe(true);
  });

  it('corrupt compressed data is BAD_XZ naming the file', async () => {
    process.env.BTFKIT_XZ = mode;
    const bad = bytes.slice();
    // Past the stream and block headers: the LZMA2 data itself.
    for (let i = 4096; i < 4200; i++) bad[i] = (bad[i] as number) ^ 0x5a;
    for (const e of [
      await errorOf(() => xzDecompress(bad, ARCHIVE)),
      await errorOf(() => xzDecompressAsync(bad, ARCHIVE)),
    ]) {
      expect(e.code).toBe('BAD_XZ');
      expect(e.file).toBe(ARCHIVE);
      expect(e.message).toContain('xz decompression failed');
      // xz(1)'s own words: the child process, not a silent fallback, did the work.
      if (mode === 'tool') expect(e.message).toContain('Compressed data is corrupt');
    }
  });

  it('a size limit below the declared size refuses before decompressing', async () => {
    process.env.BTFKIT_XZ = mode;
    const e = await errorOf(() => xzDecompress(bytes, ARCHIVE, 1 << 20));
    expect(e.code).toBe('BAD_XZ');
    expect(e.message).toContain(`expected at most ${1 << 20} decompressed bytes`);
  });
});

describe('without xz(1) on PATH', () => {
  it('falls back to the in-process decoder, sync and async', async () => {
    process.env.BTFKIT_XZ = 'tool';
    process.env.PATH = tmp;
    expect(Buffer.from(await xzDecompressAsync(bytes, ARCHIVE)).equals(expected)).toBe(true);
    expect(Buffer.from(xzDecompress(bytes, ARCHIVE)).equals(expected)).toBe(true);
  });
});

describe('xz(1) through the helper shell (xz-helper.ts)', () => {
  it('inflates every corpus archive at once, each to what xz -dc writes, leaving no temp file', async () => {
    process.env.BTFKIT_XZ = 'tool';
    const archives = execFileSync('find', [join(ROOT, 'test/corpus/kernels'), '-name', '*.btf.tar.xz'], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .sort();
    expect(archives.length).toBe(7);
    const outs = await Promise.all(
      archives.map((a) => xzDecompressAsync(new Uint8Array(readFileSync(a)), a)),
    );
    outs.forEach((out, i) => {
      const want = execFileSync('xz', ['-dc', archives[i] as string], { maxBuffer: 1 << 28 });
      expect(Buffer.from(out).equals(want)).toBe(true);
    });
    const ours = execFileSync('ls', ['-a', tmpdir()], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.startsWith(`.btfkit-xz.${process.pid}.`));
    expect(ours).toEqual([]);
  });

  it('an idle helper does not keep a process alive', () => {
    // A process that inflates once and returns must exit by itself (a helper holding the
    // event loop would hang it until the timeout).
    const script = `import { readFileSync } from 'node:fs';
import { xzDecompressAsync } from ${JSON.stringify(join(import.meta.dirname, 'xz.ts'))};
const a = ${JSON.stringify(ARCHIVE)};
const out = await xzDecompressAsync(new Uint8Array(readFileSync(a)), a);
process.stdout.write(String(out.length));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, BTFKIT_XZ: 'tool' },
      timeout: 60_000,
      encoding: 'utf8',
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(Number(r.stdout)).toBe(expected.length);
  });
});
