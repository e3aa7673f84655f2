import type { BpfProgram } from '../elf/object.ts';
import { functionAt, type ObjectCode, relocatedImage } from './image.ts';
import { formatInsn, INSN_SIZE, isCall, PSEUDO_CALL } from './insn.ts';
import type { CompatCell, CompatKernelInfo, Finding, PathCondition, RelocDecision } from './model.ts';
import { type Loc, locKey, reachProgram } from './reach.ts';
import { type coreRecords, describeRelo, type LineTable } from './source.ts';

/** Per-object context shared by all kernels. */
export interface ObjectContext {
  name: string;
  code: ObjectCode;
  lines: LineTable;
  records: ReturnType<typeof coreRecords>;
  /** Main programs (not .text subprograms) and why each needs kernel BTF, if it does. */
  programs: { prog: BpfProgram; needsKernelBtf?: string }[];
  /** For every main program: the functions it can call, transitively (itself first). */
  callees: Map<string, BpfProgram[]>;
}

/** Verdicts for every program of one object on one kernel, given libbpf's decisions there. */
export function judgeObject(
  ctx: ObjectContext,
  kernel: CompatKernelInfo,
  decisions: readonly RelocDecision[],
): CompatCell[] {
  const image = relocatedImage(ctx.code, decisions);
  const cells: CompatCell[] = [];
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
    if (image.error && 'error' in image.error.outcome) {
      cells.push({
        ...base,
        verdict: 'error',
        findings: [],
        message: `libbpf refuses the object: relocation ${image.error.relo} of ${image.error.prog} (${image.error.kind}): ${image.error.outcome.error}`,
      });
      continue;
    }
    const scope = ctx.callees.get(prog.name) ?? [prog];
    const inScope: { loc: Loc; d: RelocDecision; fn: BpfProgram }[] = [];
    for (const fn of scope) {
      const first = fn.insnOffset / INSN_SIZE;
      for (let i = first; i < first + fn.insnCount; i++) {
        const d = image.poisoned.get(`${fn.sectionIndex}:${i}`);
        if (d) inScope.push({ loc: { sec: fn.sectionIndex, idx: i }, d, fn });
      }
    }
    if (inScope.length === 0) {
      cells.push({ ...base, verdict: 'ok', findings: [] });
      continue;
    }
    const reach = reachProgram(image, { sec: prog.sectionIndex, idx: prog.insnOffset / INSN_SIZE });
    const reachedAt = new Map(reach.poisons.map((p) => [locKey(p.at), p]));
    const findings: Finding[] = inScope.map(({ loc, d, fn }) => {
      const hit = reachedAt.get(locKey(loc));
      const rec = ctx.records.get(`${fn.section}/${d.relo}`);
      const conditions: PathCondition[] = (hit?.conditions ?? []).map((c) => {
        const holder = functionAt(ctx.code, c.at.sec, c.at.idx);
        return {
          function: holder?.name ?? '?',
          insn: c.at.idx - (holder ? holder.insnOffset / INSN_SIZE : 0),
          test: formatInsn(c.insn),
          taken: c.taken,
          source: ctx.lines.at(c.at.sec, c.at.idx),
        };
      });
      return {
        relo: d.relo,
        kind: d.kind,
        cPath: d.cPath || (rec ? describeRelo(ctx.code.obj.btf, rec, d.kind) : `relocation #${d.relo}`),
        reason: d.reason,
        function: fn.name,
        insn: loc.idx - fn.insnOffset / INSN_SIZE,
        source: ctx.lines.at(loc.sec, loc.idx),
        reached: hit !== undefined,
        conditions,
        callChain: (hit?.callChain ?? []).map((c) => functionAt(ctx.code, c.sec, c.idx)?.name ?? '?'),
      };
    });
    const fails = findings.some((f) => f.reached);
    cells.push({ ...base, verdict: fails ? 'fails' : 'guarded', findings });
  }
  return cells;
}

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
      if (isCall(insn) && insn.src === PSEUDO_CALL) target = image.callTarget(at, insn);
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
