import { readFileSync } from 'node:fs';
import { machine, release } from 'node:os';

/** The running kernel's BTF, as sysfs exposes it (CONFIG_DEBUG_INFO_BTF). */
export const RUNNING_KERNEL_BTF = '/sys/kernel/btf/vmlinux';

/** The running kernel in btfhub's coordinates: where its BTF would sit in btfhub-archive. */
export interface RunningKernel {
  distro: string | undefined;
  version: string | undefined;
  arch: string;
  release: string;
}

/**
 * os-release `ID` / `VERSION_ID`, `uname -m` mapped to btfhub's arch names and `uname -r`.
 * `osRelease` and `uname` can be given (tests, or a target machine described elsewhere).
 */
export function runningKernel(
  opts: { osRelease?: string; uname?: { machine: string; release: string } } = {},
): RunningKernel {
  const text = opts.osRelease ?? readOsRelease();
  const fields = parseOsRelease(text);
  const distro = fields.ID;
  const version = normalizeVersion(distro, fields.VERSION_ID);
  const u = opts.uname ?? { machine: machine(), release: release() };
  return { distro, version, arch: btfhubArch(u.machine), release: u.release };
}

function readOsRelease(): string {
  // os-release(5): /etc/os-release first, /usr/lib/os-release as the fallback.
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      // try the next one
    }
  }
  return '';
}

/** btfhub's arch directories: `aarch64` → `arm64`; Go-style `amd64` → `x86_64`. */
export function btfhubArch(m: string): string {
  if (m === 'aarch64' || m === 'arm64') return 'arm64';
  if (m === 'amd64' || m === 'x64') return 'x86_64';
  return m;
}

/**
 * Distros whose btfhub directories use the major version only while VERSION_ID carries a
 * minor (RHEL-likes `8.6` → `8`; Amazon Linux 1's `2018.03` → `2018`).
 */
const MAJOR_ONLY = new Set(['rhel', 'centos', 'ol', 'rocky', 'almalinux', 'amzn']);

export function normalizeVersion(
  distro: string | undefined,
  version: string | undefined,
): string | undefined {
  if (version === undefined || distro === undefined) return version;
  if (MAJOR_ONLY.has(distro)) return version.split('.')[0];
  return version;
}

/**
 * os-release(5) parsing: `KEY=value` lines, values unquoted or in single or double quotes
 * (double quotes allow backslash escapes of `"`, `\`, `$` and backquote); comments and blank
 * lines skipped; later assignments win.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m === null) continue;
    out[m[1] as string] = unquote((m[2] as string).trim());
  }
  return out;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    return v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
  }
  return v;
}
