import type { Btf } from '../btf/btf.ts';
import { encodeBtf } from '../btf/encode.ts';
import { HOST_LITTLE_ENDIAN } from '../bytes/reader.ts';
import { relocationKindName } from '../core/kinds.ts';
import type { LibbpfVersion } from '../core/profile.ts';
import { type Decision, isFailed, isPoisoned, type Relocation } from '../core/relocate.ts';
import type { BpfObject } from '../elf/object.ts';
import { BtfkitError, errors, inSource } from '../errors/index.ts';
import { nowMs } from './clock.ts';
import { emitMinimized, emitMinimizedSplit } from './emit.ts';
import { MarkSet } from './marks.ts';
import { type RelocationDecision, toDecision, walkRecords } from './relocate.ts';

export interface MinimizeOptions {
  /** Fail where bpftool 7.1.0 fails (FWD/TYPE_TAG reached by marking). */
  bpftoolCompat?: boolean;
  /** The kernel's release, named in reports. */
  release?: string;
  /** Which libbpf (and so bpftool: 1.1 = 7.1.0, 1.7 = 7.7.0) to decide as. Default 1.1. */
  libbpf?: LibbpfVersion;
}

/** A relocation the kernel cannot satisfy: poisoned (the instruction would fail verification) or refused. */
export interface Unsatisfied {
  object: string;
  decision: RelocationDecision;
}

export interface MarkResult {
  marks: MarkSet;
  /** Relocations the kernel cannot satisfy, in object and relocation order. */
  unsatisfied: Unsatisfied[];
  /** How many relocation records were processed. */
  relocations: number;
  /** Milliseconds spent relocating (engine) and marking. */
  relocateMs: number;
}

/**
 * Phase 1: run every CO-RE relocation record of every object (all sections, no program
 * filtering, a fresh candidate cache per object, as bpftool does) against `kernel` and mark
 * what each first matching candidate needs. An engine error (ambiguity, bad spec…) aborts,
 * as it does in bpftool and in libbpf's loader.
 */
export function markObjects(
  kernel: Btf,
  objects: readonly BpfObject[],
  opts: MinimizeOptions = {},
): MarkResult {
  // A damaged kernel's types fail candidate matching or marking: name the kernel's file.
  return inSource(kernel, () => markAll(kernel, objects, opts));
}

function markAll(kernel: Btf, objects: readonly BpfObject[], opts: MinimizeOptions): MarkResult {
  const t0 = nowMs();
  const marks = new MarkSet(kernel, { bpftoolCompat: opts.bpftoolCompat });
  const unsatisfied: Unsatisfied[] = [];
  let relocations = 0;
  for (const obj of objects) {
    const file = obj.file ?? '<object>';
    if (obj.ext === undefined) {
      throw errors.notFound(file, 'expected a .BTF.ext section (CO-RE relocations) in the BPF object');
    }
    // Most records are only marked: a decision object is made for those reported.
    for (const r of walkRecords(obj, kernel, opts.release, opts)) {
      relocations++;
      if (isFailed(r.outcome)) {
        const d = toDecision(obj, r);
        throw errors.minimize(
          `${describe(d)}: ${d.message ?? 'relocation failed'}${onKernel(opts.release)}`,
          file,
        );
      }
      if (isPoisoned(r.outcome)) unsatisfied.push(unsatisfiedRecord(file, obj, r));
      try {
        marks.record(r.kindNumber, r.targetSpec);
      } catch (e) {
        if (e instanceof BtfkitError) {
          throw errors.minimize(`${describe(toDecision(obj, r))}: ${e.detail}`, file);
        }
        throw e;
      }
    }
  }
  return { marks, unsatisfied, relocations, relocateMs: nowMs() - t0 };
}

/**
 * An unsatisfied record whose decision is made when first read: naming its owning program
 * reads the object's symbols and programs, which a quiet run (-q) never needs. An own
 * getter, so a structured clone (a batch worker's message) or JSON (its stamps) has the value.
 */
function unsatisfiedRecord(object: string, obj: BpfObject, r: Relocation<Decision>): Unsatisfied {
  let decision: RelocationDecision | undefined;
  return {
    object,
    get decision() {
      decision ??= toDecision(obj, r);
      return decision;
    },
  };
}

/** bpftool gen min_core_btf: the minimized BTF bytes (24-byte header, host endian). */
export function minimizeBtf(
  kernel: Btf,
  objects: readonly BpfObject[],
  opts: MinimizeOptions = {},
): Uint8Array {
  const { marks } = markObjects(kernel, objects, opts);
  return encodeMinimized(marks);
}

export function encodeMinimized(marks: MarkSet): Uint8Array {
  return inSource(marks.btf, () => encodeBtf(emitMinimized(marks, HOST_LITTLE_ENDIAN), { hdrLen: 24 }));
}

/** For a module (split) kernel BTF: a minimized base and a split BTF over it. */
export function encodeMinimizedSplit(marks: MarkSet): { base: Uint8Array; split: Uint8Array } {
  const { base, split } = inSource(marks.btf, () => emitMinimizedSplit(marks, HOST_LITTLE_ENDIAN));
  return { base: encodeBtf(base, { hdrLen: 24 }), split: encodeBtf(split, { hdrLen: 24 }) };
}

/** "program 'p' (section s), relocation #3 byte_off task_struct.mm->exe_file" */
export function describe(d: RelocationDecision): string {
  const what = d.cPath ? ` ${d.cPath}` : '';
  return `program '${d.prog}' (${d.section}), relocation #${d.relo} ${relocationKindName(d.kind)}${what}`;
}

function onKernel(release: string | undefined): string {
  return release ? ` (kernel ${release})` : '';
}
