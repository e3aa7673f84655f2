// What the libbpf-tools ports share: C strings out of event bytes, libbpf-tools' column
// formats (printf's %-Ns / %Nd), and a clean stop on SIGINT/SIGTERM (Ctrl-C, as the C tools).

const utf8 = new TextDecoder();

/** The NUL-terminated string at `off` within `len` bytes. */
export function cString(bytes: Uint8Array, off: number, len: number): string {
  const field = bytes.subarray(off, off + len);
  const end = field.indexOf(0);
  return utf8.decode(end < 0 ? field : field.subarray(0, end));
}

/** printf("%-Ns") / ("%Ns"). */
export const left = (v: string | number, n: number): string => String(v).padEnd(n);
export const right = (v: string | number, n: number): string => String(v).padStart(n);

/** Runs `stop` once on SIGINT or SIGTERM, then exits 0. */
export function onStop(stop: () => Promise<void> | void): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    Promise.resolve(stop()).then(() => process.exit(0));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** A positive integer option, or exit 2 with the tool's own kind of message. */
export function intOption(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`Invalid ${name}: ${text}\n`);
    process.exit(2);
  }
  return n;
}

/** strftime("%H:%M:%S") of now, the time column of the C tools. */
export const clock = (): string => new Date().toTimeString().slice(0, 8);

/**
 * Each sample of a perf buffer as its bytes and a view over them; lost samples are reported
 * on stderr as the C tools' handle_lost_events does.
 */
export async function* perfSamples(
  events: AsyncIterable<{ cpu: number; data: Uint8Array } | { cpu: number; lost: number }>,
): AsyncGenerator<{ bytes: Uint8Array; view: DataView }> {
  for await (const ev of events) {
    if (!('data' in ev)) {
      process.stderr.write(`Lost ${ev.lost} events on CPU #${ev.cpu}!\n`);
      continue;
    }
    const bytes = ev.data;
    yield { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  }
}
