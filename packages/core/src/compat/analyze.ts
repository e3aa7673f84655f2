import { createHash } from 'node:crypto';
import type { Btf } from '../btf/btf.ts';
import type { LibbpfVersion } from '../core/profile.ts';
import { isFailed, isPoisoned, type Relocation, relocateObject } from '../core/relocate.ts';
import type { BpfObject, BpfProgram } from '../elf/object.ts';
import { objectCode } from './image.ts';
import type { KernelConfig } from './kconfig.ts';
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
  /**
   * The kernel's configuration (CONFIG_* → value), for `.kconfig` externs; without it a verdict
   * that reads one says it depends on it. The CLI reads /proc/config.gz for the running kernel.
   */
  config?: ReadonlyMap<string, string>;
}

/** libbpf's decisions for every CO-RE relocation of `obj` against `kernel`. */
export type Relocator = (obj: BpfObject, kernel: CompatKernel) => readonly RelocDecision[];

export interface CompatOptions {
  /** The relocation engine (default: btfkit's own, `relocateObject`). */
  relocate?: Relocator;
  /** Which libbpf the default engine decides as (core/profile.ts). Default 1.1. */
  libbpf?: LibbpfVersion;
  /**
   * `initial` (default): .rodata holds the object's initial values, as when it is loaded
   * unchanged, so the verifier prunes code behind `const volatile` flags. `unknown`: user
   * space may set them before loading, so such code counts as reachable.
   */
  rodata?: 'initial' | 'unknown';
  /** Display names of the objects (default: file name without `.bpf.o`). */
  names?: string[];
  /**
   * Another analysis of the same objects judges (`judge`) and reports `objectInfo`
   * (`useObjectInfo`): this one only decides, and never decodes the objects' code.
   */
  judgedElsewhere?: boolean;
  /** Minimized BTF per kernel release, to show sizes and which kernels share one. */
  minimized?: ReadonlyMap<string, Uint8Array>;
}

/**
 * btfkit's CO-RE engine (libbpf 1.1's decisions), as RelocDecisions. One pass of the loader's
 * walk (as cheap as a decision-only pass, and it also sees what only patching finds: loads and
 * stores that cannot be resized are poisoned, instruction mismatches refused).
 */
export const engineRelocator: Relocator = (obj, kernel) => engineRelocation(obj, kernel, undefined, true);

/**
 * The engine deciding as a given libbpf does, for the analysis itself: the C path of a record
 * that resolves is left out (the engine's `describeResolved: false`). Only poisoned and
 * refused records are ever shown, and those keep theirs; building one for each of the
 * ~2,000 records of every kernel was a tenth of the engine's time in a compat run.
 */
export function libbpfRelocator(libbpf: LibbpfVersion | undefined): Relocator {
  return (obj, kernel) => engineRelocation(obj, kernel, libbpf, false);
}

function engineRelocation(
  obj: BpfObject,
  kernel: CompatKernel,
  libbpf: LibbpfVersion | undefined,
  describeResolved: boolean,
): readonly RelocDecision[] {
  const { relocations } = relocateObject(obj, kernel.btf, {
    release: kernel.release,
    libbpf,
    describeResolved,
  });
  // With nothing poisoned or refused every program is `ok` and the patches do not matter.
  if (relocations.every((r) => !isFailed(r.outcome) && !isPoisoned(r.outcome))) return [];
  return relocations.map(toDecision);
}

/** One record's decision, as one literal (object spreads cost more in cold code). */
export function toDecision(r: Relocation): RelocDecision {
  const o = r.outcome;
  return {
    prog: r.prog,
    relo: r.relo,
    kind: r.kind,
    insn: r.insn,
    cPath: r.cPath,
    reason: 'poison' in o ? o.reason : undefined,
    outcome:
      'error' in o
        ? { error: o.error }
        : 'poison' in o
          ? { poison: true }
          : {
              patched: o.memSize
                ? { field: o.field, to: o.to, memSize: o.memSize }
                : { field: o.field, to: o.to },
            },
  };
}

/** `name.bpf.o` → `name`. */
export function objectName(obj: BpfObject, fallback: string): string {
  const base = (obj.file ?? fallback).split('/').pop() ?? fallback;
  return base.replace(/\.bpf\.o$|\.o$/, '');
}

export function objectContext(
  obj: BpfObject,
  name: string,
  rodata: 'initial' | 'unknown' = 'initial',
): ObjectContext {
  const code = objectCode(obj, rodata === 'initial');
  const programs = obj.programs
    .filter((p) => !p.isSubprog)
    .map((prog) => ({ prog, needsKernelBtf: kernelBtfNeed(code, prog.name) }));
  const calleeLists = new Map<string, BpfProgram[]>();
  const callees = (prog: BpfProgram) => {
    let list = calleeLists.get(prog.name);
    if (list === undefined) {
      list = calleesOf(code, prog);
      calleeLists.set(prog.name, list);
    }
    return list;
  };
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
  const analysis = new CompatAnalysis(objects, opts);
  for (const k of kernels) analysis.addKernel(k, opts.minimized?.get(k.release));
  return analysis.result();
}

/** One kernel's relocation decisions for every object: what judging it needs (plain data). */
export interface KernelDecisions {
  /** The kernel's place in the analysis (the order kernels were added in). */
  index: number;
  info: CompatKernelInfo;
  /** Per object, in the analysis' object order. */
  decisions: (readonly RelocDecision[])[];
  facts: KernelConfig;
}

/**
 * The same, one kernel at a time, so a caller can load a kernel's BTF, analyse it and let it
 * go before the next (kernel BTFs are large; objects are small and analysed once).
 *
 * `addKernel` is two steps a caller may also run apart: `decide` (relocate every object
 * against the kernel, which needs its BTF) and `judge` (walk the relocated code, which needs
 * only the decisions), then `record`. The CLI judges in another thread (judge-pool.ts) while
 * this one decides the next kernel.
 */
export class CompatAnalysis {
  private madeContexts: ObjectContext[] | undefined;
  private readonly kernels: CompatKernelInfo[] = [];
  /** Per kernel, per object: the cells in program order. */
  private readonly cells: CompatCell[][][] = [];
  private readonly minimized = new Map<string, Uint8Array>();
  private readonly relocate: Relocator;
  private objectInfos: CompatObjectInfo[] | undefined;

  constructor(
    private readonly objects: readonly BpfObject[],
    private readonly opts: Omit<CompatOptions, 'minimized'> = {},
  ) {
    this.relocate = opts.relocate ?? libbpfRelocator(opts.libbpf);
    // Made now unless another thread judges: an object compat cannot read is reported
    // before any kernel is read.
    if (opts.judgedElsewhere !== true) void this.contexts;
  }

  /** Per object: its code and programs, made on first use (only judging and `result` need them). */
  private get contexts(): ObjectContext[] {
    this.madeContexts ??= this.objects.map((obj, i) =>
      objectContext(obj, this.opts.names?.[i] ?? objectName(obj, `object${i}`), this.opts.rodata),
    );
    return this.madeContexts;
  }

  addKernel(kernel: CompatKernel, minimized?: Uint8Array): void {
    const decided = this.decide(kernel, minimized);
    this.record(decided.index, this.judge(decided));
  }

  /** Relocates every object against `kernel` and takes the kernel's place in the result. */
  decide(kernel: CompatKernel, minimized?: Uint8Array): KernelDecisions {
    const info = kernelInfo(kernel);
    if (this.kernels.some((k) => k.id === info.id))
      info.id = `${info.id}@${info.path ?? this.kernels.length}`;
    const index = this.kernels.length;
    this.kernels.push(info);
    if (minimized) this.minimized.set(info.id, minimized);
    const facts: KernelConfig = { release: kernel.release, config: kernel.config };
    return { index, info, decisions: this.objects.map((obj) => this.relocate(obj, kernel)), facts };
  }

  /** Every object's cells on one kernel, from its decisions (an analysis of the same objects). */
  judge(d: KernelDecisions): CompatCell[][] {
    return this.contexts.map((ctx, i) => judgeObject(ctx, d.info, d.decisions[i] ?? [], d.facts));
  }

  /** The cells `judge` gave for the kernel `decide` placed at `index`. */
  record(index: number, cells: CompatCell[][]): void {
    this.cells[index] = cells;
  }

  /** The objects and their programs as the result lists them. */
  objectInfo(): CompatObjectInfo[] {
    return this.contexts.map((ctx) => ({
      name: ctx.name,
      file: ctx.code.obj.file,
      programs: ctx.programs.map(({ prog, needsKernelBtf }) => ({
        name: prog.name,
        section: prog.section,
        needsKernelBtf,
      })),
    }));
  }

  /** `objectInfo` as an analysis of the same objects made it elsewhere (the judging thread). */
  useObjectInfo(infos: CompatObjectInfo[]): void {
    this.objectInfos = infos;
  }

  result(): CompatResult {
    const kernels = this.kernels.map((k) => ({ ...k }));
    if (this.minimized.size > 0) shareMinimized(kernels, this.minimized);
    const objects = this.objectInfos ?? this.objectInfo();
    const cells: CompatCell[] = [];
    // Object-major, then program, then kernel.
    objects.forEach((obj, o) => {
      obj.programs.forEach((_, p) => {
        for (const perKernel of this.cells) cells.push(perKernel?.[o]?.[p] as CompatCell);
      });
    });
    return { kernels, objects, cells, summary: summarize(cells) };
  }
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
