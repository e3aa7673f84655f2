import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  analyzeCompat,
  type CompatCell,
  type CompatKernel,
  type CompatResult,
  type Finding,
  type KernelBtf,
  type LibbpfVersion,
  VERDICTS,
} from '@btfkit/core';
import { type ObjectInput, sha256 } from './btfset.ts';
import type { KernelEntry } from './kernels.ts';

// Part of every cache key: bump when the analysis can give another result for the same inputs.
const ANALYSIS_ID = 'btfkit-compat-1';

/**
 * Build-time CO-RE compatibility of one object against the configured kernels (core's
 * analyzeCompat), remembered like the minimized BTF: in memory and in the cache directory,
 * keyed by the object's and every kernel file's content hash.
 */
export class CompatChecker {
  private readonly memory = new Map<string, CompatResult>();

  /**
   * `withoutBtf`: whether a configured kernel is marked as built without BTF of its own.
   * `shownPath`: how a kernel's path appears in results (the report is a build output, which
   * must not carry the build machine's absolute paths).
   */
  constructor(
    private readonly cacheDir: string | undefined,
    private readonly withoutBtf: (k: KernelEntry) => boolean = () => false,
    private readonly shownPath: (path: string) => string = (path) => path,
    private readonly libbpf?: LibbpfVersion,
  ) {}

  async analyze(
    obj: ObjectInput,
    name: string,
    kernels: readonly { kernel: KernelEntry; hash: string; minimized?: Uint8Array }[],
    decode: (k: KernelEntry) => Promise<KernelBtf>,
  ): Promise<CompatResult> {
    const key = sha256(
      [
        ANALYSIS_ID,
        // Only another profile is hashed in: results cached with the default stay valid.
        ...(this.libbpf !== undefined && this.libbpf !== '1.1' ? [`libbpf=${this.libbpf}`] : []),
        name,
        sha256(obj.bytes),
        ...kernels.map(
          (k) => `${k.kernel.path}\0${k.hash}${this.withoutBtf(k.kernel) ? '\0without-btf' : ''}`,
        ),
      ].join('\0'),
    );
    const hit = this.memory.get(key) ?? this.fromDisk(key);
    if (hit) return hit;
    const targets: CompatKernel[] = [];
    for (const { kernel: k } of kernels) {
      targets.push({
        btf: (await decode(k)).btf,
        release: k.release,
        path: this.shownPath(k.path),
        builtinBtf: !this.withoutBtf(k),
        ...known('distro', k.distro),
        ...known('version', k.version),
        ...known('arch', k.arch),
      });
    }
    const minimized = new Map<string, Uint8Array>();
    for (const k of kernels) if (k.minimized) minimized.set(k.kernel.release, k.minimized);
    const result = analyzeCompat([obj.parsed], targets, { names: [name], minimized, libbpf: this.libbpf });
    this.memory.set(key, result);
    this.toDisk(key, result);
    return result;
  }

  private fromDisk(key: string): CompatResult | undefined {
    if (!this.cacheDir) return undefined;
    try {
      const r = JSON.parse(readFileSync(join(this.cacheDir, `${key}.compat.json`), 'utf8')) as CompatResult;
      this.memory.set(key, r);
      return r;
    } catch {
      return undefined;
    }
  }

  private toDisk(key: string, result: CompatResult): void {
    if (!this.cacheDir) return;
    mkdirSync(this.cacheDir, { recursive: true });
    const final = join(this.cacheDir, `${key}.compat.json`);
    const tmp = `${final}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, JSON.stringify(result));
    renameSync(tmp, final);
  }
}

function known<K extends string>(key: K, v: string): { [P in K]?: string } {
  return (v === 'unknown' ? {} : { [key]: v }) as { [P in K]?: string };
}

/**
 * The cells a developer must hear about: programs that fail, programs that need BTF a kernel
 * lacks (`withoutBtf`), or objects libbpf refuses.
 */
export function problems(result: CompatResult): CompatCell[] {
  return result.cells.filter(
    (c) => c.verdict === 'fails' || c.verdict === 'error' || c.verdict === 'needs-kernel-btf',
  );
}

/**
 * One diagnostic line per failing program × kernel, in C terms:
 * `probe.bpf.o: program 'ipv4_bind_exit' fails on debian/12/x86_64/6.12.111+deb12-cloud-amd64:
 * byte_off inet_sock.freebind (probe_exit relocation #3): field `freebind` … does not exist …,
 * at bindsnoop.bpf.c:88:37 `opts.fields.freebind = …`, in probe_exit called from ipv4_bind_exit`.
 */
export function describeProblem(file: string, result: CompatResult, cell: CompatCell): string {
  const k = result.kernels.find((x) => x.id === cell.kernel);
  const where = k ? [k.distro, k.version, k.arch, k.release].filter(Boolean).join('/') : cell.kernel;
  const head = `${file}: program '${cell.program}'`;
  if (cell.verdict === 'error')
    return `${head}: libbpf refuses the object on ${where}: ${cell.message ?? ''}`;
  if (cell.verdict === 'needs-kernel-btf')
    return `${head}: needs-kernel-btf on ${where}: ${cell.message ?? ''}`;
  const reached = cell.findings.filter((f) => f.reached);
  return `${head} fails on ${where}: ${(reached.length ? reached : cell.findings).map(describeFinding).join('; ')}`;
}

function describeFinding(f: Finding): string {
  // A negative relo is no relocation: an instruction the verifier refuses as it stands.
  let s = `${f.kind} ${f.cPath} (${f.function} ${f.relo < 0 ? `insn ${f.insn}` : `relocation #${f.relo}`})`;
  if (f.reason) s += `: ${f.reason}`;
  if (f.source) s += `, at ${f.source.file}:${f.source.line}:${f.source.column} \`${f.source.text.trim()}\``;
  for (const c of f.conditions) {
    const at = c.source ? ` (${c.source.file}:${c.source.line})` : '';
    s += `, when \`${c.test}\`${at} is ${c.taken ? 'taken' : 'not taken'}`;
  }
  if (f.callChain.length > 0) s += `, in ${f.function} called from ${f.callChain.join(' → ')}`;
  return s;
}

/**
 * One result for every object of the build, for the report. The kernels are the same for all
 * (one plugin configuration); minimized sizes are per object, so they are kept only for one.
 */
export function mergeResults(results: readonly CompatResult[]): CompatResult {
  const first = results[0];
  if (results.length === 1 && first) return first;
  const kernels = (first?.kernels ?? []).map(({ minimizedSize, sharesMinimizedWith, ...k }) => k);
  const cells = results.flatMap((r) => r.cells);
  const summary = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as CompatResult['summary'];
  for (const c of cells) summary[c.verdict]++;
  return { kernels, objects: results.flatMap((r) => r.objects), cells, summary };
}
