import type { BpfProgram } from '../elf/object.ts';
import { formatInsn, INSN_SIZE, isCall, Pseudo } from '../insn/index.ts';
import { guardOf } from './guard.ts';
import { functionAt, type ObjectCode, type RelocatedImage, relocatedImage } from './image.ts';
import { type KernelConfig, kconfigBytes, kconfigValue } from './kconfig.ts';
import type { CompatCell, CompatKernelInfo, Finding, PathCondition, RelocDecision } from './model.ts';
import { profileKey, verifierProfile } from './profile.ts';
import { type Loc, locKey, type PathStep, type ReachEnv, type ReachResult, reachProgram } from './reach.ts';
import { type coreRecords, describeRelo, type LineTable } from './source.ts';

/** Per-object context shared by all kernels. */
export interface ObjectContext {
  name: string;
  code: ObjectCode;
  lines: LineTable;
  records: ReturnType<typeof coreRecords>;
  /** Main programs (not .text subprograms) and why each needs kernel BTF, if it does. */
  programs: { prog: BpfProgram; needsKernelBtf?: string }[];
  /**
   * The functions a main program can call, transitively (itself first): worked out on first
   * use, which is only for programs with a poisoned instruction somewhere in the object.
   */
  callees(prog: BpfProgram): BpfProgram[];
  /**
   * Images and reachability walks already computed for this object, by the decisions that
   * produced them: many kernels relocate an object identically, and the image and the walks
   * are functions of the decisions alone, so they are computed once per distinct set.
   */
  judged?: Map<string, JudgedImage>;
  /**
   * Walks by what they depend on: the program, the kernel facts it sees and the patches in the
   * code sections its functions sit in (see sectionCodeKey).
   */
  walks?: Map<string, ReachResult>;
}

/** One relocated image of an object and the reachability walks done over it, by program and kernel facts. */
interface JudgedImage {
  image: RelocatedImage;
  reach: Map<string, ReachResult>;
}

/** Everything in a decision list that the image, the walks or the findings can depend on. */
function decisionsKey(decisions: readonly RelocDecision[]): string {
  return JSON.stringify(decisions, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

function judgedImage(ctx: ObjectContext, decisions: readonly RelocDecision[]): JudgedImage {
  // No decisions: the image is the object's own code (the engine relocator returns none when
  // nothing is poisoned or refused), so there is nothing to key.
  if (decisions.length === 0) {
    const hit = ctx.judged?.get('');
    if (hit) return hit;
  }
  const key = decisions.length === 0 ? '' : decisionsKey(decisions);
  ctx.judged ??= new Map();
  let judged = ctx.judged.get(key);
  if (!judged) {
    judged = { image: relocatedImage(ctx.code, decisions), reach: new Map() };
    ctx.judged.set(key, judged);
  }
  return judged;
}

/**
 * What the decisions do to the code sections holding the program and its callees: a walk (and
 * the guards found from it) reads only those sections, so two decision sets that patch them the
 * same way give the same walk. Only where and how an instruction changes is kept; why (the
 * reason of a poison, the C path) does not change the code.
 */
function sectionCodeKey(ctx: ObjectContext, prog: BpfProgram, decisions: readonly RelocDecision[]): string {
  const sections = new Set(ctx.callees(prog).map((fn) => fn.sectionIndex));
  const parts: string[] = [];
  for (const d of decisions) {
    const fn = ctx.code.functions.get(d.prog);
    if (!fn || !sections.has(fn.sectionIndex)) continue;
    const o = d.outcome;
    if ('error' in o) parts.push(`${d.prog}/${d.insn}/error`);
    else if ('poison' in o) parts.push(`${d.prog}/${d.insn}/poison`);
    else parts.push(`${d.prog}/${d.insn}/${o.patched.field}=${o.patched.to}`);
  }
  return parts.join(';');
}

/** The poisoned instructions of `fn`, in instruction order, with their decisions. */
function poisonedIn(image: RelocatedImage, fn: BpfProgram): { idx: number; d: RelocDecision }[] {
  const first = fn.insnOffset / INSN_SIZE;
  const inSection = poisonedBySection(image).get(fn.sectionIndex) ?? [];
  return inSection.filter((p) => p.idx >= first && p.idx < first + fn.insnCount);
}

/**
 * An image's poisoned instructions by code section, each list in instruction order: its
 * `sec:idx` keys parsed once per image rather than once per program and function asked.
 */
function poisonedBySection(image: RelocatedImage): Map<number, { idx: number; d: RelocDecision }[]> {
  let bySec = POISONED_BY_SECTION.get(image);
  if (bySec) return bySec;
  bySec = new Map();
  for (const [key, d] of image.poisoned) {
    const colon = key.indexOf(':');
    const sec = Number(key.slice(0, colon));
    let list = bySec.get(sec);
    if (!list) {
      list = [];
      bySec.set(sec, list);
    }
    list.push({ idx: Number(key.slice(colon + 1)), d });
  }
  for (const list of bySec.values()) list.sort((a, b) => a.idx - b.idx);
  POISONED_BY_SECTION.set(image, bySec);
  return bySec;
}
const POISONED_BY_SECTION = new WeakMap<RelocatedImage, Map<number, { idx: number; d: RelocDecision }[]>>();

/** Verdicts for every program of one object on one kernel, given libbpf's decisions there. */
export function judgeObject(
  ctx: ObjectContext,
  kernel: CompatKernelInfo,
  decisions: readonly RelocDecision[],
  facts: KernelConfig = { release: kernel.release },
): CompatCell[] {
  const judged = judgedImage(ctx, decisions);
  const image = judged.image;
  const cells: CompatCell[] = [];
  const kernelEnv = kernelFacts(ctx, facts);
  for (const { prog, needsKernelBtf } of ctx.programs) {
    const base = { object: ctx.name, program: prog.name, kernel: kernel.id };
    if (needsKernelBtf && !kernel.builtinBtf) {
      cells.push({
        ...base,
        verdict: 'needs-kernel-btf',
        findings: [],
        message: `${needsKernelBtf}: needs BTF in the kernel (/sys/kernel/btf/vmlinux), which ${kernel.release} is marked as built without`,
      });
      continue;
    }
    if (kernelEnv.refused) {
      cells.push({
        ...base,
        verdict: 'error',
        findings: [],
        message: `libbpf refuses the object: ${kernelEnv.refused}`,
      });
      continue;
    }
    if (image.error && 'error' in image.error.outcome) {
      cells.push({
        ...base,
        verdict: 'error',
        findings: [],
        message: `libbpf refuses the object: relocation ${image.error.relo} of ${image.error.prog} (${image.error.kind}): ${image.error.outcome.error}`,
      });
      continue;
    }
    const inScope: { loc: Loc; d: RelocDecision; fn: BpfProgram }[] = [];
    // Scope functions in order, then instruction order within each (poisoned is small: walk it
    // rather than every instruction of the scope).
    if (image.poisoned.size > 0) {
      for (const fn of ctx.callees(prog)) {
        for (const { idx, d } of poisonedIn(image, fn))
          inScope.push({ loc: { sec: fn.sectionIndex, idx }, d, fn });
      }
    }
    // Instructions the verifier refuses as they stand (r11–r15) are among the poisoned ones
    // (image.ts): reaching one fails the program with its finding.
    if (inScope.length === 0) {
      cells.push({ ...base, verdict: 'ok', findings: [] });
      continue;
    }
    const reachKey = `${prog.name}|${kernelEnv.key}`;
    let reach = judged.reach.get(reachKey);
    // Another decision set may give this program's sections the same code (decisions that
    // differ only in other sections, or in what they say rather than what they patch).
    const codeKey = reach ? '' : `${reachKey}|${sectionCodeKey(ctx, prog, decisions)}`;
    if (!reach) reach = ctx.walks?.get(codeKey);
    if (!reach) {
      const globals = ctx
        .callees(prog)
        .map((fn) => ({ sec: fn.sectionIndex, idx: fn.insnOffset / INSN_SIZE }))
        .filter((l) => image.isGlobalFunc(l));
      reach = reachProgram(
        image,
        { sec: prog.sectionIndex, idx: prog.insnOffset / INSN_SIZE },
        {
          ...kernelEnv.env,
          globals,
        },
      );
      judged.reach.set(reachKey, reach);
      ctx.walks ??= new Map();
      ctx.walks.set(codeKey, reach);
    }
    const dependsOn = reach.depends.size > 0 ? [...reach.depends].sort() : undefined;
    const reachedAt = new Map(reach.poisons.map((p) => [locKey(p.at), p]));
    const findings: Finding[] = inScope.map(({ loc, d, fn }) => {
      const hit = reachedAt.get(locKey(loc));
      const rec = ctx.records.get(`${fn.section}/${d.relo}`);
      const condition = (c: PathStep): PathCondition => {
        const holder = functionAt(ctx.code, c.at.sec, c.at.idx);
        return {
          function: holder?.name ?? '?',
          insn: c.at.idx - (holder ? holder.insnOffset / INSN_SIZE : 0),
          test: formatInsn(c.insn),
          taken: c.taken,
          source: ctx.lines.at(c.at.sec, c.at.idx),
        };
      };
      const conditions = (hit?.conditions ?? []).map(condition);
      const guard = hit || reach.exhausted ? undefined : guardFor(image, reach, loc);
      return {
        relo: d.relo,
        kind: d.kind,
        cPath: d.cPath || (rec ? describeRelo(ctx.code.obj.btf, rec, d.kind) : `relocation #${d.relo}`),
        reason: d.reason,
        function: fn.name,
        insn: loc.idx - fn.insnOffset / INSN_SIZE,
        source: ctx.lines.at(loc.sec, loc.idx),
        // Past the walk's budget, what it did not rule out counts as reached.
        reached: hit !== undefined || reach.exhausted,
        conditions,
        callChain: (hit?.callChain ?? []).map((c) => functionAt(ctx.code, c.sec, c.idx)?.name ?? '?'),
        ...(guard ? { guard: condition(guard) } : {}),
      };
    });
    const fails = findings.some((f) => f.reached);
    cells.push({
      ...base,
      verdict: fails ? 'fails' : 'guarded',
      findings,
      dependsOn,
      message: reach.exhausted
        ? `the walk stopped after its step budget: poisoned instructions it did not rule out are counted as reached`
        : undefined,
    });
  }
  return cells;
}

/**
 * guardOf, once per walk and instruction: a walk is shared by every kernel that relocates the
 * object the same way, and so is the guard of each poisoned instruction it did not reach.
 */
function guardFor(image: RelocatedImage, reach: ReachResult, loc: Loc): PathStep | undefined {
  let byLoc = GUARDS.get(reach);
  if (!byLoc) {
    byLoc = new Map();
    GUARDS.set(reach, byLoc);
  }
  const key = locKey(loc);
  if (byLoc.has(key)) return byLoc.get(key);
  const guard = guardOf(image, reach.folded, loc);
  byLoc.set(key, guard);
  return guard;
}
const GUARDS = new WeakMap<ReachResult, Map<string, PathStep | undefined>>();

/** The functions a program can reach through bpf-to-bpf calls and callback references. */
export function calleesOf(code: ObjectCode, prog: BpfProgram): BpfProgram[] {
  const out: BpfProgram[] = [prog];
  const seen = new Set<string>([prog.name]);
  const image = relocatedImage(code, []);
  for (let k = 0; k < out.length; k++) {
    const fn = out[k] as BpfProgram;
    const insns = code.sections.get(fn.sectionIndex) ?? [];
    const first = fn.insnOffset / INSN_SIZE;
    for (let i = first; i < first + fn.insnCount; i++) {
      const insn = insns[i];
      if (!insn) continue;
      const at = { sec: fn.sectionIndex, idx: i };
      let target: Loc | undefined;
      if (isCall(insn) && insn.src === Pseudo.CALL) target = image.callTarget(at, insn);
      else {
        const ref = image.dataRef(at);
        if (ref?.kind === 'func') target = ref.target;
      }
      if (!target) continue;
      const callee = functionAt(code, target.sec, target.idx);
      if (callee && !seen.has(callee.name)) {
        seen.add(callee.name);
        out.push(callee);
      }
    }
  }
  return out;
}

/**
 * What the walk needs to know of one kernel: its verifier's profile and its `.kconfig` values;
 * `key` tells kernels apart only by what the object's walks can see.
 */
function kernelFacts(
  ctx: ObjectContext,
  facts: KernelConfig,
): { env: Omit<ReachEnv, 'globals'>; key: string; refused?: string } {
  const profile = verifierProfile(facts.release);
  const values = new Map<string, { bytes: Uint8Array } | { unknown: string }>();
  let refused: string | undefined;
  const parts = [profileKey(profile)];
  for (const ext of ctx.code.kconfig.values()) {
    const v = kconfigValue(ext, facts);
    if ('refused' in v) refused ??= v.refused;
    if ('known' in v) {
      values.set(ext.name, { bytes: kconfigBytes(v.known, ext.size, ctx.code.obj.littleEndian) });
      parts.push(`${ext.name}=${v.known}`);
    } else if ('unknown' in v) {
      values.set(ext.name, { unknown: v.unknown });
      parts.push(`${ext.name}=?`);
    }
  }
  return {
    env: { profile, kconfig: (name) => values.get(name) ?? { unknown: `${name} (not a .kconfig extern)` } },
    key: parts.join(','),
    refused,
  };
}
