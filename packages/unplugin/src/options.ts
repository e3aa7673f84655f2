import { errors, isLibbpfVersion, LIBBPF_VERSIONS, type LibbpfVersion } from '@btfkit/core';

export type Pattern = string | RegExp;

/** What users pass to `btfkit({...})`. */
export interface Options {
  /**
   * Kernel BTF sources: files (raw BTF, vmlinux, btfhub `.btf.tar.xz`), directories (btfhub trees)
   * and globs; relative ones from the bundler's root (Vite `root`, webpack `context`, esbuild
   * `absWorkingDir`, else the working directory). A directory or glob with no kernel is an error.
   */
  kernels?: string | string[];
  /** Which imports the plugin handles (globs or RegExps on the absolute path). Default: `*.bpf.o` and `*.bpf.c`. */
  include?: Pattern | Pattern[];
  exclude?: Pattern | Pattern[];
  /** Embed the object and BTF bytes in the module instead of emitting assets. Default: assets where the bundler can emit them. */
  inline?: boolean;
  /** Write `probe.bpf.d.o.ts` beside each imported object (needs `allowArbitraryExtensions`). */
  dts?: boolean;
  /** The clang used for `.bpf.c` imports. Default: `clang`, else the newest `clang-NN` on PATH. */
  clang?: string;
  /** Extra clang flags for `.bpf.c` imports (after `-g -O2 -target bpf`). */
  cflags?: string[];
  /**
   * Build-time CO-RE compatibility against the configured kernels: `warn` reports each program
   * that would fail on a kernel (in C terms) as a bundler warning, `error` fails the build.
   */
  compat?: 'off' | 'warn' | 'error';
  /**
   * Kernels to treat as built without BTF of their own (no /sys/kernel/btf/vmlinux), as the CLI's
   * `--without-btf`: a kernel matches when its release or path contains one of the patterns;
   * `'all'` marks every kernel. Programs that need kernel BTF (fentry, tp_btf, lsm, …) then get
   * `needs-kernel-btf` there, reported like a failing program.
   */
  withoutBtf?: string[] | 'all';
  /** Emit the HTML compatibility report as an asset: `true` names it `btfkit-report.html`. */
  report?: boolean | string;
  /**
   * The persistent cache of minimized BTF, relative to the bundler's root as `kernels` is;
   * `false` turns it off. Default: `node_modules/.cache/btfkit`.
   */
  cacheDir?: string | false;
  /**
   * Which libbpf the compatibility check decides as: '1.1' (Debian 12's, the default) or '1.7'
   * (libbpf 1.6+ patches direct loads of moved array members that 1.1 poisons), as the CLI's
   * `--libbpf`.
   */
  libbpf?: LibbpfVersion;
}

export interface ResolvedOptions {
  kernels: string[];
  include: Pattern[];
  exclude: Pattern[];
  inline: boolean | undefined;
  dts: boolean;
  clang: string | undefined;
  cflags: string[];
  compat: 'off' | 'warn' | 'error';
  /** Release/path substrings of kernels built without BTF; `'all'` matches every kernel. */
  withoutBtf: string[];
  /** The report asset's file name, when one is asked for. */
  report: string | undefined;
  /** As given (resolved against the bundler's root once it is known); undefined when turned off. */
  cacheDir: string | undefined;
  libbpf: LibbpfVersion | undefined;
}

// Each validator returns undefined when the value is fine, else what was expected.
type Check = (v: unknown) => string | undefined;
const isString: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : 'a non-empty string');
const isBool: Check = (v) => (typeof v === 'boolean' ? undefined : 'a boolean');
const isPattern: Check = (v) =>
  v instanceof RegExp || (typeof v === 'string' && v !== '') ? undefined : 'a glob string or a RegExp';
const oneOrMany =
  (inner: Check, what: string): Check =>
  (v) => {
    const list = Array.isArray(v) ? v : [v];
    return list.every((x) => inner(x) === undefined) ? undefined : what;
  };
const listOf =
  (inner: Check, what: string): Check =>
  (v) =>
    Array.isArray(v) && v.every((x) => inner(x) === undefined) ? undefined : what;

const CHECKS: Record<keyof Options, Check> = {
  kernels: oneOrMany(isString, 'a path, directory or glob, or an array of them'),
  include: oneOrMany(isPattern, 'a glob string or RegExp, or an array of them'),
  exclude: oneOrMany(isPattern, 'a glob string or RegExp, or an array of them'),
  inline: isBool,
  dts: isBool,
  clang: isString,
  cflags: listOf((x) => (typeof x === 'string' ? undefined : 'string'), 'an array of strings'),
  compat: (v) => (v === 'off' || v === 'warn' || v === 'error' ? undefined : "'off', 'warn' or 'error'"),
  withoutBtf: (v) =>
    v === 'all' || (Array.isArray(v) && v.every((x) => typeof x === 'string' && x !== ''))
      ? undefined
      : "'all' or an array of non-empty kernel release or path substrings",
  report: (v) =>
    typeof v === 'boolean' || (typeof v === 'string' && /^[^/\\][^\\]*\.html$/.test(v) && !v.includes('..'))
      ? undefined
      : 'a boolean or a relative .html file name',
  cacheDir: (v) =>
    v === false || (typeof v === 'string' && v !== '') ? undefined : 'a directory path or false',
  libbpf: (v) => (isLibbpfVersion(v) ? undefined : LIBBPF_VERSIONS.map((x) => `'${x}'`).join(' or ')),
};

const DEFAULT_INCLUDE: Pattern[] = [/\.bpf\.[oc]$/];

/** Checks every option before any work: an unknown key or a bad value is an error naming it. */
export function resolveOptions(raw: unknown): ResolvedOptions {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw errors.badOption(`unplugin-btfkit: options must be an object, got ${describe(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o).sort()) {
    const check = CHECKS[key as keyof Options];
    if (!check) {
      throw errors.badOption(
        `unplugin-btfkit: unknown option '${key}' (known: ${Object.keys(CHECKS).sort().join(', ')})`,
      );
    }
    if (o[key] === undefined) continue;
    const expected = check(o[key]);
    if (expected !== undefined) {
      throw errors.badOption(`unplugin-btfkit: option '${key}' must be ${expected}, got ${describe(o[key])}`);
    }
  }
  const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const opts = o as Options;
  return {
    kernels: arr(opts.kernels),
    include: opts.include === undefined ? DEFAULT_INCLUDE : arr(opts.include),
    exclude: arr(opts.exclude),
    inline: opts.inline,
    dts: opts.dts ?? false,
    clang: opts.clang,
    cflags: opts.cflags ?? [],
    compat: opts.compat ?? 'off',
    withoutBtf: opts.withoutBtf === 'all' ? ['all'] : (opts.withoutBtf ?? []),
    report: opts.report === true ? 'btfkit-report.html' : opts.report || undefined,
    cacheDir: opts.cacheDir === false ? undefined : (opts.cacheDir ?? 'node_modules/.cache/btfkit'),
    libbpf: opts.libbpf,
  };
}

function describe(v: unknown): string {
  if (v instanceof RegExp) return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** Whether the plugin handles this module id (query strings like `?url` are left to the bundler). */
export function makeFilter(opts: ResolvedOptions): (id: string) => boolean {
  const test = (p: Pattern, id: string) => {
    if (p instanceof RegExp) {
      p.lastIndex = 0;
      return p.test(id);
    }
    return matchesGlob(id, p);
  };
  return (id) => {
    if (id.includes('\0') || id.includes('?')) return false;
    const norm = id.replace(/\\/g, '/');
    return opts.include.some((p) => test(p, norm)) && !opts.exclude.some((p) => test(p, norm));
  };
}

function matchesGlob(id: string, glob: string): boolean {
  const re = globToRegExp(glob.startsWith('/') || glob.startsWith('**') ? glob : `**/${glob}`);
  return re.test(id);
}

/** Minimal glob: `**` any path, `*` within a segment, `?` one char, `{a,b}` alternatives. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${glob
          .slice(i + 1, end)
          .split(',')
          .map((s) => s.replace(/[.+^$()|[\]\\]/g, '\\$&'))
          .join('|')})`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|[\]\\{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
