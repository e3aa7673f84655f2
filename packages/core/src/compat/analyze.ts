import { createHash } from 'node:crypto';
import type { Btf } from '../btf/btf.ts';
import { type Relocation, relocateObject } from '../core/relocate.ts';
import type { BpfObject } from '../elf/object.ts';
import { objectCode } from './image.ts';
import type {
  CompatCell,
  CompatKernelInfo,
  CompatObjectInfo,
  CompatResult,
  RelocDecision,
  Verdict,
} from './model.ts';
import { VERDICTS } from './model.ts';
import { kernelBtfNeed } from './needs.ts';
import { coreRecords, LineTable } from './source.ts';
import { calleesOf, judgeObject, type ObjectContext } from './verdict.ts';

/** A kernel to check against: its BTF and where it sits in a btfhub-style tree. */
export interface CompatKernel {
  btf: Btf;
  release: string;
  distro?: string;
  version?: string;
  arch?: string;
  path?: string;
  /**
   * Whether the kernel has its own BTF (/sys/kernel/btf/vmlinux). Default true. Set false for
   * kernels a btfhub file stands in for (btfhub only carries kernels built without BTF):
   * programs that need kernel BTF then get `needs-kernel-btf`.
   */
  builtinBtf?: boolean;
}

/** libbpf's decisions for every CO-RE relocation of `obj` against `kernel`. */
export type Relocator = (obj: BpfObject, kernel: CompatKernel) => readonly RelocDecision[];

export interface CompatOptions {
  /** The relocation engine (default: btfkit's own, `relocateObject`). */
  relocate?: Relocator;
  /** Display names of the objects (default: file name without `.bpf.o`). */
  names?: string[];
  /** Minimized BTF per kernel id, to show sizes and which kernels share one. */
  minimized?: ReadonlyMap<string, Uint8Array>;
}

/** btfkit's CO-RE engine (libbpf 1.1's decisions), as RelocDecisions. */
export const engineRelocator: Relocator = (obj, kernel) =>
  relocateObject(obj, kernel.btf, { release: kernel.release }).relocations.map(toDecision);

export function toDecision(r: Relocation): RelocDecision {
  const o = r.outcome;
  const base = { prog: r.prog, relo: r.relo, kind: r.kind, insn: r.insn, cPath: r.cPath };
  if ('error' in o) return { ...base, outcome: { error: o.error } };
  if ('poison' in o) return { ...base, reason: o.reason, outcome: { poison: true } };
  return { ...base, outcome: { patched: { field: o.field, to: o.to } } };
}

/** `name.bpf.o` → `name`. */
export function objectName(obj: BpfObject, fallback: string): string {
  const base = (obj.file ?? fallback).split('/').pop() ?? fallback;
  return base.replace(/\.bpf\.o$|\.o$/, '');
}

export function objectContext(obj: BpfObject, name: string): ObjectContext {
  const code = objectCode(obj);
  const programs = obj.programs
    .filter((p) => !p.isSubprog)
    .map((prog) => ({ prog, needsKernelBtf: kernelBtfNeed(code, prog.name) }));
  const callees = new Map(programs.map(({ prog }) => [prog.name, calleesOf(code, prog)]));
  return { name, code, lines: new LineTable(obj), records: coreRecords(obj), programs, callees };
}

export function kernelInfo(k: CompatKernel): CompatKernelInfo {
  return {
    id: k.release || k.path || '?',
    release: k.release,
    distro: k.distro,
    version: k.version,
    arch: k.arch,
    path: k.path,
    builtinBtf: k.builtinBtf ?? true,
  };
}

/**
 * For each object × program × kernel, one verdict (see `Verdict`). Objects and kernels keep
 * the order given; the result is plain data (JSON-serializable), the input of `renderReport`.
 */
export function analyzeCompat(
  objects: readonly BpfObject[],
  kernels: readonly CompatKernel[],
  opts: CompatOptions = {},
): CompatResult {
  const relocate = opts.relocate ?? engineRelocator;
  const infos = kernels.map(kernelInfo);
  const dup = new Set<string>();
  for (const k of infos) {
    if (dup.has(k.id)) k.id = `${k.id}@${k.path ?? dup.size}`;
    dup.add(k.id);
  }
  if (opts.minimized) shareMinimized(infos, opts.minimized);
  const objectInfos: CompatObjectInfo[] = [];
  const cells: CompatCell[] = [];
  objects.forEach((obj, i) => {
    const ctx = objectContext(obj, opts.names?.[i] ?? objectName(obj, `object${i}`));
    objectInfos.push({
      name: ctx.name,
      file: obj.file,
      programs: ctx.programs.map(({ prog, needsKernelBtf }) => ({
        name: prog.name,
        section: prog.section,
        needsKernelBtf,
      })),
    });
    const perKernel = kernels.map((k, j) => judgeObject(ctx, infos[j] as CompatKernelInfo, relocate(obj, k)));
    // Object-major, then program, then kernel.
    ctx.programs.forEach((_, p) => {
      for (const list of perKernel) cells.push(list[p] as CompatCell);
    });
  });
  return { kernels: infos, objects: objectInfos, cells, summary: summarize(cells) };
}

export function summarize(cells: readonly CompatCell[]): Record<Verdict, number> {
  const out = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const c of cells) out[c.verdict]++;
  return out;
}

const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function shareMinimized(infos: CompatKernelInfo[], minimized: ReadonlyMap<string, Uint8Array>): void {
  const groups = new Map<string, string[]>();
  for (const k of infos) {
    const bytes = minimized.get(k.id);
    if (!bytes) continue;
    k.minimizedSize = bytes.length;
    const key = digest(bytes);
    const list = groups.get(key) ?? [];
    list.push(k.id);
    groups.set(key, list);
  }
  for (const k of infos) {
    const bytes = minimized.get(k.id);
    if (bytes) k.sharesMinimizedWith = groups.get(digest(bytes));
  }
}
