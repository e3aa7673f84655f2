import { parseTar } from 'nanotar';
import { isUntouchedResidentFile } from '../btf/btf-wasm-kit.ts';
import { errors } from '../errors/index.ts';

/**
 * The one BTF file inside a btfhub `.btf.tar.xz`. nanotar extracts, but it silently
 * "sanitizes" names (drops leading '/', resolves '..') and trusts header sizes, so every
 * header is first checked here against the raw bytes: checksum, octal size inside the
 * archive, entry type, and the name as written. The archive must hold exactly one regular
 * file, named `<release>.btf`; anything else (a second file, a directory, a link, a device,
 * an absolute name or one with '..') is refused: we never guess which entry is the BTF.
 */

const BLOCK = 512;

export interface TarEntry {
  name: string;
  data: Uint8Array;
  /** Offset of the entry's header in the tar. */
  headerOffset: number;
}

/**
 * `expectedName`: the entry name the archive's own name implies (`<release>.btf`), or
 * undefined to accept any single `*.btf` file at the top level.
 */
export function readSingleBtfEntry(
  tar: Uint8Array,
  file: string,
  expectedName: string | undefined,
): TarEntry {
  const found = walk(tar, file);
  if (found.length !== 1) {
    const second = found[1];
    if (second !== undefined) {
      throw errors.badTar(
        file,
        second.headerOffset,
        `expected a single file in the archive, found another entry '${second.name}'`,
      );
    }
    throw errors.badTar(file, 0, 'expected one regular file in the archive, found none');
  }
  const entry = found[0] as Found;
  const want =
    expectedName ?? (entry.name.endsWith('.btf') && !entry.name.includes('/') ? entry.name : undefined);
  if (want === undefined || entry.name !== want) {
    throw errors.badTar(
      file,
      entry.headerOffset,
      `expected the entry to be named '${want ?? '<release>.btf'}', found '${entry.name}'`,
    );
  }

  // nanotar reads from the ArrayBuffer start, ignoring a view's byteOffset: give it its own,
  // unless the tar starts its buffer and only zeros follow (an archive inflated into a BTF
  // arena, whose entry is then decoded where it lies; the zeros end nanotar's walk as the
  // end-of-archive blocks do).
  const own =
    tar.byteOffset === 0 && (tar.byteLength === tar.buffer.byteLength || isUntouchedResidentFile(tar))
      ? tar
      : tar.slice();
  let items: { data?: Uint8Array; size: number; type: string | undefined }[];
  try {
    items = parseTar(own);
  } catch (e) {
    throw errors.badTar(file, entry.headerOffset, `tar parser failed: ${(e as Error).message}`);
  }
  const item = items[0];
  if (items.length !== 1 || item === undefined || item.size !== entry.size || item.type !== 'file') {
    throw errors.badTar(file, entry.headerOffset, 'expected the tar parser to agree on the single entry');
  }
  const data = item.data ?? new Uint8Array(0);
  return { name: entry.name, data, headerOffset: entry.headerOffset };
}

interface Found {
  name: string;
  size: number;
  headerOffset: number;
}

function walk(tar: Uint8Array, file: string): Found[] {
  const out: Found[] = [];
  let pos = 0;
  let pendingName: string | undefined; // from a GNU 'L' entry or a pax 'path'
  for (;;) {
    if (pos + BLOCK > tar.length) {
      if (pos === tar.length && out.length > 0) break; // no end-of-archive blocks: tolerated
      // The last entry's data (or its padding) may already run past a cut: point at the end.
      throw errors.badTar(
        file,
        Math.min(pos, tar.length),
        `expected a ${BLOCK}-byte tar header at offset ${pos}, but the archive ends at offset ${tar.length}`,
      );
    }
    const h = tar.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) {
      // End of archive: everything after it must be zero too, or it hides another entry.
      const rest = tar.subarray(pos);
      const junk = rest.findIndex((b) => b !== 0);
      if (junk >= 0)
        throw errors.badTar(file, pos + junk, 'expected only zero bytes after the end-of-archive block');
      break;
    }
    checkChecksum(h, pos, file);
    const type = String.fromCharCode(h[156] as number);
    const size = octal(h, 124, 12, pos, file, 'size');
    const dataStart = pos + BLOCK;
    if (size > tar.length - dataStart) {
      throw errors.badTar(
        file,
        pos + 124,
        `expected ${size} bytes of entry data, only ${tar.length - dataStart} remain`,
      );
    }
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    const body = tar.subarray(dataStart, dataStart + size);
    if (type === 'x' || type === 'g') {
      const path = paxPath(body, dataStart, file);
      if (type === 'x' && path !== undefined) pendingName = path;
      pos = next;
      continue;
    }
    if (type === 'L') {
      pendingName = cString(body, 0, body.length);
      pos = next;
      continue;
    }
    const written = headerName(h);
    const name = pendingName ?? written;
    pendingName = undefined;
    checkName(name, pos, file);
    if (type !== '0' && type !== '\0') {
      throw errors.badTar(
        file,
        pos + 156,
        `expected a regular file entry, found type '${type}' for '${name}' (links, directories and devices are refused)`,
      );
    }
    out.push({ name: name.replace(/^(\.\/)+/, ''), size, headerOffset: pos });
    pos = next;
  }
  return out;
}

function checkName(name: string, at: number, file: string): void {
  if (name.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(name)) {
    throw errors.badTar(file, at, `expected a relative entry name, found absolute '${name}'`);
  }
  if (name.split(/[\\/]/).includes('..')) {
    throw errors.badTar(file, at, `expected an entry name that stays inside the archive, found '${name}'`);
  }
}

function headerName(h: Uint8Array): string {
  const name = cString(h, 0, 100);
  const ustar = cString(h, 257, 6) === 'ustar';
  const prefix = ustar ? cString(h, 345, 155) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function checkChecksum(h: Uint8Array, at: number, file: string): void {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
  const stored = octal(h, 148, 8, at, file, 'checksum');
  if (stored !== sum) throw errors.badTar(file, at + 148, `expected header checksum ${sum}, found ${stored}`);
}

function octal(h: Uint8Array, off: number, len: number, at: number, file: string, what: string): number {
  const text = cString(h, off, len).trim();
  if (!/^[0-7]+$/.test(text)) {
    throw errors.badTar(file, at + off, `expected an octal ${what} field, found '${text.slice(0, 12)}'`);
  }
  return Number.parseInt(text, 8);
}

function cString(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && end < b.length && b[end] !== 0) end++;
  return new TextDecoder().decode(b.subarray(off, end));
}

/** The `path` record of a pax header ("<len> path=<value>\n" records). */
function paxPath(body: Uint8Array, at: number, file: string): string | undefined {
  const text = new TextDecoder().decode(body);
  let i = 0;
  let path: string | undefined;
  while (i < text.length) {
    const space = text.indexOf(' ', i);
    const len = Number.parseInt(text.slice(i, space), 10);
    if (space < 0 || !Number.isSafeInteger(len) || len <= space - i || i + len > text.length) {
      if (text.slice(i).replace(/\0/g, '') === '') break;
      throw errors.badTar(file, at + i, 'expected a pax record "<length> <key>=<value>\\n"');
    }
    const record = text.slice(space + 1, i + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0 && record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    i += len;
  }
  return path;
}
