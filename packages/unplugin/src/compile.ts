import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A clang diagnostic, as `file:line:col: error: message`. */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: string;
  message: string;
}

export interface CompileResult {
  bytes?: Uint8Array;
  /** Headers the source included (from clang's depfile), to watch. */
  deps: string[];
  diagnostics: Diagnostic[];
  stderr: string;
}

let found: string | null | undefined;

/** `clang` if on PATH, else the newest `clang-NN`; null when there is none. */
export function findClang(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const name of ['clang', ...Array.from({ length: 12 }, (_, i) => `clang-${22 - i}`)]) {
    try {
      execFileSync(name, ['--version'], { stdio: 'ignore' });
      found = name;
      break;
    } catch {
      // not this one
    }
  }
  return found;
}

/** Compiles a `.bpf.c` for BPF with BTF (`-g -O2 -target bpf`), collecting diagnostics and headers. */
export function compileBpf(clang: string, file: string, cflags: readonly string[]): Promise<CompileResult> {
  const dir = mkdtempSync(join(tmpdir(), 'btfkit-cc-'));
  const out = join(dir, 'out.o');
  const dep = join(dir, 'out.d');
  const args = ['-g', '-O2', '-target', 'bpf', ...cflags, '-MD', '-MF', dep, '-c', file, '-o', out];
  return new Promise((resolvePromise) => {
    execFile(clang, args, { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, _stdout, stderr) => {
      const diagnostics = parseDiagnostics(stderr);
      const result: CompileResult = { deps: [], diagnostics, stderr };
      try {
        if (!err) {
          result.bytes = new Uint8Array(readFileSync(out));
          result.deps = parseDepfile(readFileSync(dep, 'utf8')).filter((d) => d !== file);
        } else if (diagnostics.length === 0) {
          result.diagnostics.push({
            file,
            line: 0,
            column: 0,
            severity: 'error',
            message: (stderr || err.message).trim(),
          });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      resolvePromise(result);
    });
  });
}

export function parseDiagnostics(stderr: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^(.+?):(\d+):(\d+): (error|fatal error|warning): (.*)$/.exec(line);
    if (m) {
      out.push({
        file: m[1] as string,
        line: Number(m[2]),
        column: Number(m[3]),
        severity: m[4] as string,
        message: m[5] as string,
      });
    }
  }
  return out;
}

function parseDepfile(text: string): string[] {
  const body = text.replace(/\\\n/g, ' ').replace(/^[^:]*:/, '');
  return body
    .split(/(?<!\\)\s+/)
    .map((s) => s.replace(/\\ /g, ' '))
    .filter((s) => s !== '');
}
