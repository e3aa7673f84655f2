import { closeSync, fstatSync } from 'node:fs';
import { errors } from '../errors/index.ts';
import { MAX_STREAM_INPUT } from '../io/bounded-read.ts';
import { type Allocate, readFromStart, unlinkedTempFile } from './temp-file.ts';

/**
 * xz decompression with a bound known before anything is inflated. The binding we use
 * (`xz.decompressSync`, lzma-rs) has no output limit, so a few KB of crafted xz could ask
 * for gigabytes. The xz container tells us the answer without decompressing: every LZMA2
 * chunk header states its unpacked size, and walking those headers (skipping the packed
 * bytes) sums exactly what the decoder will produce. We refuse anything over the limit, and
 * anything that is not a single xz stream of LZMA2 blocks (what `xz` and btfhub write).
 */

/** The one bound on what an input may make us hold: an archive's inflated size, as a stream's. */
export const DEFAULT_MAX_DECOMPRESSED = MAX_STREAM_INPUT;

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const LZMA2_FILTER = 0x21;
/** Bytes of the integrity check for each check type (xz spec 2.1.1.2). */
const CHECK_SIZES = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];

export function isXz(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && XZ_MAGIC.every((b, i) => bytes[i] === b);
}

/** The exact decompressed size an xz stream will produce, read from its chunk headers. */
export function xzDecompressedSize(bytes: Uint8Array, file: string, max = Number.POSITIVE_INFINITY): number {
  const fail = (at: number, what: string): never => {
    throw errors.badXz(file, what, at);
  };
  const need = (at: number, n: number, what: string) => {
    if (at + n > bytes.length) fail(at, `expected ${what} (${n} bytes) but the file ends at ${bytes.length}`);
  };
  const byte = (at: number, what: string): number => {
    need(at, 1, what);
    return bytes[at] as number;
  };
  /** xz multibyte integer: 7 bits a byte, at most 9 bytes. Returns [value, next]. */
  const varint = (at: number, what: string): [number, number] => {
    let v = 0;
    for (let i = 0; i < 9; i++) {
      const b = byte(at + i, what);
      v += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) fail(at, `expected a minimally encoded ${what}`);
        return [v, at + i + 1];
      }
    }
    return fail(at, `expected ${what} in at most 9 bytes`);
  };

  need(0, 12, 'xz stream header');
  if (!isXz(bytes)) fail(0, 'expected the xz magic fd 37 7a 58 5a 00');
  if (bytes[6] !== 0 || (bytes[7] as number) > 0x0f)
    fail(6, 'expected xz stream flags 00 0x (a known check type)');
  const checkSize = CHECK_SIZES[bytes[7] as number] as number;

  let pos = 12;
  let total = 0;
  for (;;) {
    const blockStart = pos;
    const sizeByte = byte(pos, 'block header size or index indicator');
    if (sizeByte === 0) break; // the index follows
    const headerSize = (sizeByte + 1) * 4;
    need(pos, headerSize, 'block header');
    const flags = byte(pos + 1, 'block flags');
    if ((flags & 0x3c) !== 0) fail(pos + 1, 'expected reserved block flag bits to be 0');
    const nFilters = (flags & 0x03) + 1;
    let p = pos + 2;
    if (flags & 0x40) p = varint(p, 'block compressed size')[1];
    if (flags & 0x80) p = varint(p, 'block uncompressed size')[1];
    let lastFilter = -1;
    for (let i = 0; i < nFilters; i++) {
      const [id, afterId] = varint(p, 'filter id');
      const [propsLen, afterLen] = varint(afterId, 'filter properties size');
      lastFilter = id;
      p = afterLen + propsLen;
    }
    if (p > pos + headerSize - 4) fail(pos, 'expected the block header fields to fit in its declared size');
    if (lastFilter !== LZMA2_FILTER)
      fail(pos + 2, `expected LZMA2 (0x21) as the last filter, found 0x${lastFilter.toString(16)}`);
    pos += headerSize;

    // LZMA2 chunks until the 0x00 end marker.
    for (;;) {
      const at = pos;
      const c = byte(pos, 'LZMA2 chunk control byte');
      if (c === 0x00) {
        pos += 1;
        break;
      }
      if (c === 0x01 || c === 0x02) {
        need(pos + 1, 2, 'LZMA2 uncompressed chunk size');
        const size = (((bytes[pos + 1] as number) << 8) | (bytes[pos + 2] as number)) + 1;
        total += size;
        pos += 3 + size;
      } else if (c >= 0x80) {
        need(pos + 1, 4, 'LZMA2 chunk sizes');
        const unpacked =
          ((c & 0x1f) << 16) + (((bytes[pos + 1] as number) << 8) | (bytes[pos + 2] as number)) + 1;
        const packed = (((bytes[pos + 3] as number) << 8) | (bytes[pos + 4] as number)) + 1;
        // Reset modes 2 and 3 carry a new properties byte.
        const props = ((c >> 5) & 3) >= 2;
        total += unpacked;
        pos += 5 + (props ? 1 : 0) + packed;
      } else {
        fail(
          at,
          `expected an LZMA2 chunk control byte (00, 01, 02 or ≥ 80), found ${c.toString(16).padStart(2, '0')}`,
        );
      }
      if (total > max)
        fail(at, `expected at most ${max} decompressed bytes, the xz chunk headers declare more`);
      if (pos > bytes.length) fail(at, 'expected the LZMA2 chunk to end before the file does');
    }
    while ((pos - blockStart) % 4 !== 0) {
      if (byte(pos, 'block padding') !== 0) fail(pos, 'expected zero block padding');
      pos++;
    }
    need(pos, checkSize, 'block check');
    pos += checkSize;
  }

  // Index, then the 12-byte footer whose backward size must agree with where the index began.
  const indexStart = pos;
  const [records, afterCount] = varint(pos + 1, 'index record count');
  // Each record takes at least two bytes: a larger count is a lie, refused before looping.
  if (records * 2 > bytes.length - afterCount)
    fail(pos + 1, `expected ${records} index records to fit in the file`);
  let p = afterCount;
  for (let i = 0; i < records; i++) {
    p = varint(p, 'index unpadded size')[1];
    p = varint(p, 'index uncompressed size')[1];
  }
  while ((p - indexStart) % 4 !== 0) p++;
  p += 4; // index CRC32
  const footer = p;
  need(footer, 12, 'xz stream footer');
  const backward =
    ((bytes[footer + 4] as number) |
      ((bytes[footer + 5] as number) << 8) |
      ((bytes[footer + 6] as number) << 16)) +
    (bytes[footer + 7] as number) * 2 ** 24;
  if ((backward + 1) * 4 !== footer - indexStart)
    fail(footer + 4, 'expected the footer backward size to match the index size');
  if (bytes[footer + 10] !== 0x59 || bytes[footer + 11] !== 0x5a)
    fail(footer + 10, "expected the xz footer magic 'YZ'");
  if (footer + 12 !== bytes.length) {
    fail(footer + 12, 'expected the end of the file after the xz stream footer (one stream only)');
  }
  return total;
}

/**
 * Which decoder inflates an archive. Measured on the corpus's largest kernel (4.5 MiB out),
 * quiet machine, medians: xz(1) through a pipe 70-80 ms (of which xz itself ~50 ms, liblzma),
 * @napi-rs/lzma in-process 85-90 ms, lzma-native (liblzma, async only) ~110 ms. xz(1) also
 * runs beside us instead of on our thread, and @napi-rs/lzma keeps ~5 MiB of RSS per call
 * for the life of the process. Below ~256 KiB of input the ~15 ms of spawning a process is
 * the larger cost, so small inputs (fixtures, fuzzing) stay in-process, as does everything
 * when xz(1) is not installed. BTFKIT_XZ=lib or =tool forces one side (tests, benchmarks).
 */
const SPAWN_MIN_INPUT = 256 * 1024;
let xzToolMissing = false;

function useXzTool(bytes: Uint8Array): boolean {
  const force = process.env.BTFKIT_XZ;
  if (force === 'lib' || xzToolMissing) return false;
  return force === 'tool' || bytes.length >= SPAWN_MIN_INPUT;
}

/**
 * node:child_process, loaded on first use: only archives need it, and loading it (with the
 * net and stream modules it pulls in) cost every other command ~2 ms of start-up.
 */
let childProcess: typeof import('node:child_process') | undefined;
function processes(): typeof import('node:child_process') {
  childProcess ??= process.getBuiltinModule('node:child_process');
  return childProcess;
}

/**
 * A require beside this module, made on first use: node:module itself loads Node's ES module
 * loader and source-map support (~0.7 ms), which only a command that reads an archive
 * in-process needs.
 */
function requireHere(id: string): unknown {
  return process.getBuiltinModule('node:module').createRequire(import.meta.url)(id);
}

type Lzma = {
  xz: { decompressSync(b: Uint8Array): Uint8Array; decompress(b: Uint8Array): Promise<Uint8Array> };
};
let lzma: Lzma | undefined;
/** The native addon, loaded on first use only: most commands never see an xz file. */
function inProcess(): Lzma['xz'] {
  if (!lzma) lzma = requireHere('@napi-rs/lzma') as Lzma;
  return lzma.xz;
}

/** xz(1)'s complaint as our error; `undefined` when there is no xz(1) to run. */
function toolFailure(
  file: string,
  size: number,
  err: NodeJS.ErrnoException | undefined,
  status: number | null,
  stderr: string,
) {
  if (err?.code === 'ENOENT') {
    xzToolMissing = true;
    return undefined;
  }
  if (err?.code === 'ENOBUFS' || err?.code === 'EOVERFLOW') {
    return errors.badXz(
      file,
      `expected ${size} decompressed bytes from the chunk headers, the decoder produced more`,
    );
  }
  // EPIPE: xz stopped reading at the bad spot and exited; its stderr says why.
  const why =
    err && err.code !== 'EPIPE'
      ? err.message
      : stderr.trim().replace(/^xz: \(stdin\): /, '') || `exit status ${status}`;
  return errors.badXz(file, `xz decompression failed: ${why}`);
}

/** Decompresses after checking the size the stream will produce against `max`. */
export function xzDecompress(bytes: Uint8Array, file: string, max = DEFAULT_MAX_DECOMPRESSED): Uint8Array {
  const size = checkedSize(bytes, file, max);
  if (useXzTool(bytes)) {
    // maxBuffer one past the declared size: a decoder producing more is stopped, not awaited.
    const r = processes().spawnSync('xz', ['-dc'], { input: bytes, maxBuffer: size + 1, env: xzEnv() });
    if (!r.error && r.status === 0) return afterDecompress(r.stdout, size, file);
    const e = toolFailure(file, size, r.error, r.status, r.stderr?.toString() ?? '');
    if (e) throw e;
  }
  let out: Uint8Array;
  try {
    out = inProcess().decompressSync(bytes);
  } catch (e) {
    throw errors.badXz(file, `xz decompression failed: ${(e as Error).message}`);
  }
  return afterDecompress(out, size, file);
}

/**
 * xzDecompress without holding the thread: xz(1) inflates in a child process. `allocate`
 * says where its output is read to (a BTF arena for a kernel decoded on this thread; the
 * in-process fallback returns its own buffer whatever it says).
 */
export async function xzDecompressAsync(
  bytes: Uint8Array,
  file: string,
  max = DEFAULT_MAX_DECOMPRESSED,
  allocate?: Allocate,
): Promise<Uint8Array> {
  const size = checkedSize(bytes, file, max);
  if (useXzTool(bytes)) {
    // The helper shell first (cheap to start, never stalled by this thread); xz(1) directly
    // when that fails, to word the error or to find that there is no xz(1).
    const { xzByHelper } = await import('./xz-helper.ts');
    const out = (await xzByHelper(bytes, size, allocate)) ?? (await xzToolAsync(bytes, size, file, allocate));
    if (out) return afterDecompress(out, size, file);
  }
  let out: Uint8Array;
  try {
    out = await inProcess().decompress(bytes);
  } catch (e) {
    throw errors.badXz(file, `xz decompression failed: ${(e as Error).message}`);
  }
  return afterDecompress(out, size, file);
}

/** Messages from xz(1) in English whatever the user's locale (PATH as it is now). */
function xzEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C' };
}

/**
 * xz -dc as a child process; undefined if xz(1) is missing. It writes into an unlinked temp
 * file, not a pipe: a pipe drains only while this thread's event loop runs, so a batch
 * minimizing one kernel synchronously stalled the xz(1) children of the next ones at a full
 * 64 KiB pipe. A file lets them run to the end meanwhile; the output is then read in one go
 * (from the page cache), and one that is larger than the chunk headers declared is refused.
 */
function xzToolAsync(
  bytes: Uint8Array,
  size: number,
  file: string,
  allocate?: Allocate,
): Promise<Uint8Array | undefined> {
  const fd = unlinkedTempFile();
  return new Promise<Uint8Array | undefined>((resolve, reject) => {
    const child = processes().spawn('xz', ['-dc'], { env: xzEnv(), stdio: ['pipe', fd, 'pipe'] });
    const err: Buffer[] = [];
    let spawnError: NodeJS.ErrnoException | undefined;
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
      // A process that never started emits no 'close'.
      if (e.code === 'ENOENT' && child.pid === undefined) {
        toolFailure(file, size, e, null, '');
        resolve(undefined);
      }
    });
    // EPIPE when xz exits early on bad input: its exit status and stderr say why.
    child.stdin?.on('error', () => {});
    child.stdin?.end(bytes);
    child.on('close', (status) => {
      if (spawnError || status !== 0) {
        const e = toolFailure(file, size, spawnError, status, Buffer.concat(err).toString());
        if (e) reject(e);
        else resolve(undefined);
        return;
      }
      const got = fstatSync(fd).size;
      if (got > size) {
        const tooMuch = Object.assign(new Error('too much output'), { code: 'ENOBUFS' });
        reject(toolFailure(file, size, tooMuch, status, ''));
        return;
      }
      resolve(readFromStart(fd, got, allocate));
    });
  }).finally(() => closeSync(fd));
}

function checkedSize(bytes: Uint8Array, file: string, max: number): number {
  // Refused as soon as the running total passes the limit, so a truncated bomb is caught too.
  return xzDecompressedSize(bytes, file, max);
}

function afterDecompress(out: Uint8Array, size: number, file: string): Uint8Array {
  if (out.length !== size) {
    throw errors.badXz(
      file,
      `expected ${size} decompressed bytes from the chunk headers, the decoder produced ${out.length}`,
    );
  }
  return out;
}
