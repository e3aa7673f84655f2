/**
 * Every failure btfkit reports about its input is a BtfkitError: a stable code, the file it
 * came from, the byte offset where the problem sits (when there is one) and what was expected
 * there. Errors are built only by the named factories below so codes stay consistent.
 */
export type ErrorCode =
  | 'TRUNCATED'
  | 'BAD_MAGIC'
  | 'BAD_HEADER'
  | 'BAD_BTF'
  | 'BAD_STRING'
  | 'BAD_ELF'
  | 'BAD_BTF_EXT'
  | 'BAD_TAR'
  | 'BAD_XZ'
  | 'NOT_FOUND'
  | 'IO'
  | 'BAD_OPTION'
  | 'CORE_RELO'
  | 'MINIMIZE'
  | 'UNSUPPORTED';

export class BtfkitError extends Error {
  override readonly name = 'BtfkitError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The file the bytes came from, when known. */
    readonly file?: string,
    /** Absolute byte offset within that file (or blob), when the problem has a position. */
    readonly offset?: number,
  ) {
    super(formatMessage(message, file, offset));
  }

  /** The same error attributed to a file (and shifted by the blob's position in that file). */
  withFile(file: string, baseOffset = 0): BtfkitError {
    if (this.file !== undefined) return this;
    const e = new BtfkitError(
      this.code,
      this.detail,
      file,
      this.offset === undefined ? undefined : this.offset + baseOffset,
    );
    return e;
  }

  get detail(): string {
    return stripLocation(this.message);
  }
}

function formatMessage(message: string, file?: string, offset?: number): string {
  const where = [file, offset === undefined ? undefined : `offset ${offset} (0x${offset.toString(16)})`]
    .filter((x) => x !== undefined)
    .join(' at ');
  return where ? `${where}: ${message}` : message;
}

const LOCATION = /^.*? at offset \d+ \(0x[0-9a-f]+\): |^offset \d+ \(0x[0-9a-f]+\): /;
function stripLocation(message: string): string {
  return message.replace(LOCATION, '');
}

export const errors = {
  /**
   * `have` counts the bytes from `offset` to the end of the data being read (negative when a
   * header places the data past that end). `end` is where that data ends, in the same
   * coordinates as `offset` (by default offset + have): the message always states it, so an
   * offset past the end of the input reads as "should be here, but the data stops there"
   * rather than as a bad offset. For a whole file read from offset 0, `end` is its size.
   */
  truncated: (offset: number, need: number, what: string, have: number, end: number = offset + have) =>
    new BtfkitError(
      'TRUNCATED',
      `expected ${what} (${need} bytes) but only ${Math.max(0, have)} remain: the data ends at offset ${end}`,
      undefined,
      offset,
    ),
  badMagic: (offset: number, what: string, got: string) =>
    new BtfkitError('BAD_MAGIC', `expected ${what}, found ${got}`, undefined, offset),
  badHeader: (offset: number, message: string) => new BtfkitError('BAD_HEADER', message, undefined, offset),
  badBtf: (offset: number, message: string) => new BtfkitError('BAD_BTF', message, undefined, offset),
  badString: (offset: number, message: string) => new BtfkitError('BAD_STRING', message, undefined, offset),
  badElf: (offset: number, message: string) => new BtfkitError('BAD_ELF', message, undefined, offset),
  badBtfExt: (offset: number, message: string) => new BtfkitError('BAD_BTF_EXT', message, undefined, offset),
  badTar: (file: string, offset: number, message: string) =>
    new BtfkitError('BAD_TAR', message, file, offset),
  badXz: (file: string, message: string, offset = 0) => new BtfkitError('BAD_XZ', message, file, offset),
  notFound: (file: string, message: string) => new BtfkitError('NOT_FOUND', message, file),
  io: (file: string, message: string) => new BtfkitError('IO', message, file),
  badOption: (message: string) => new BtfkitError('BAD_OPTION', message),
  coreRelo: (message: string, file?: string) => new BtfkitError('CORE_RELO', message, file),
  minimize: (message: string, file?: string) => new BtfkitError('MINIMIZE', message, file),
  /** An error raised in a worker thread, sent over as plain data (`threadError`), as it was. */
  fromThread: (e: ThreadError) => new BtfkitError(e.code, e.detail, e.file, e.offset),
  unsupported: (message: string, file?: string, offset?: number) =>
    new BtfkitError('UNSUPPORTED', message, file, offset),
};

/** Runs `fn`, attributing any BtfkitError without a file to `file`. */
export function inFile<T>(file: string, fn: () => T, baseOffset = 0): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BtfkitError) throw e.withFile(file, baseOffset);
    throw e;
  }
}

/** What a decoded BTF says about where it came from (btf/btf.ts `source`). */
export interface HasSource {
  source?: { file: string; fileOffset: number } | undefined;
}

/**
 * Runs `fn`, attributing any BtfkitError without a file to the file `btf` was decoded from
 * (record offsets shifted to that file): for stages that find problems in a BTF's types long
 * after it was decoded.
 */
export function inSource<T>(btf: HasSource, fn: () => T): T {
  const s = btf.source;
  return s === undefined ? fn() : inFile(s.file, fn, s.fileOffset);
}

/** A BtfkitError as plain data, to cross between threads (a structured clone loses its class). */
export interface ThreadError {
  code: ErrorCode;
  detail: string;
  file?: string;
  offset?: number;
}

export function threadError(e: BtfkitError): ThreadError {
  return { code: e.code, detail: e.detail, file: e.file, offset: e.offset };
}
