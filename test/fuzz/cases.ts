// One generated input per case index: a seeded mutation of a real input of some kind, run
// through everything btfkit does with that kind, and classified. Case i of seed S is always
// the same bytes (replay one with `pnpm fuzz --seed S --only i`).
import type { Btf } from '../../packages/core/src/btf/btf.ts';
import { decodeBtf } from '../../packages/core/src/btf/decode.ts';
import { analyzeCompat } from '../../packages/core/src/compat/analyze.ts';
import { relocateObject } from '../../packages/core/src/core/relocate.ts';
import { dumpC } from '../../packages/core/src/dump/c.ts';
import { dumpRaw } from '../../packages/core/src/dump/raw.ts';
import { parseBpfObject } from '../../packages/core/src/elf/object.ts';
import { BtfkitError, inFile } from '../../packages/core/src/errors/index.ts';
import { btfSourceFromBytes } from '../../packages/core/src/kernels/source.ts';
import { minimizeBtf } from '../../packages/core/src/minimize/minimize.ts';
import { fixupBtf } from '../../packages/runtime/src/loader/btf-fixup.ts';
import { ALL_FEATURES, sanitizeBtf } from '../../packages/runtime/src/loader/btf-sanitize.ts';
import { applyCore } from '../../packages/runtime/src/loader/core.ts';
import { collectExterns } from '../../packages/runtime/src/loader/externs.ts';
import { applyDataRelocs, linkProgram, sectionRelocs } from '../../packages/runtime/src/loader/link.ts';
import { collectMaps } from '../../packages/runtime/src/loader/maps.ts';
import { resolveSection } from '../../packages/runtime/src/loader/sections.ts';
import type { Inputs, Region } from './inputs.ts';

export type Kind = 'object' | 'compat-insn' | 'runtime-insn' | 'kernel' | 'split' | 'archive';
export const KINDS: readonly Kind[] = ['object', 'compat-insn', 'runtime-insn', 'kernel', 'split', 'archive'];

export type Outcome = 'ok' | 'typed' | 'no-file' | 'internal' | 'hang';

export interface Case {
  index: number;
  kind: Kind;
  /** The file name the damaged input is given under (what every error must name). */
  file: string;
  bytes: Uint8Array;
  /** What was done to it, for a reproducible report. */
  how: string;
  /** Kind 'object' / '*-insn': the kernel it is relocated against; 'kernel': the object. */
  partner: number;
}

/** mulberry32: small, fast, and the same sequence for a seed on every platform. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const caseSeed = (seed: number, index: number) =>
  (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;

const INTERESTING32 = [
  0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
  0xfffffffe, 0xffffff00,
];

/** Byte-level damage inside [start, end): flips, interesting words, truncation, splices. */
function mutate(src: Uint8Array, r: () => number, region?: Region): { bytes: Uint8Array; how: string } {
  const pick = (n: number) => Math.floor(r() * n);
  const start = region?.start ?? 0;
  const end = Math.min(region?.end ?? src.length, src.length);
  const span = Math.max(1, end - start);
  const at = () => start + pick(span);
  const op = pick(10);
  if (op === 0) {
    const cut = pick(src.length + 1);
    return { bytes: src.slice(0, cut), how: `truncated to ${cut}` };
  }
  const bytes = src.slice();
  if (op <= 3) {
    const n = 1 + pick(8);
    const where: number[] = [];
    for (let k = 0; k < n; k++) {
      const p = at();
      if (p < bytes.length) {
        bytes[p] = pick(256);
        where.push(p);
      }
    }
    return { bytes, how: `random bytes at ${where.join(',')}` };
  }
  if (op <= 6) {
    const p = start + 4 * pick(Math.max(1, Math.floor(span / 4)));
    const v = INTERESTING32[pick(INTERESTING32.length)] as number;
    const dv = new DataView(bytes.buffer);
    if (p + 4 <= bytes.length)
      dv.setUint32(p, pick(2) ? v : (dv.getUint32(p, true) + pick(9) - 4) >>> 0, true);
    return { bytes, how: `word at ${p}` };
  }
  if (op === 7) {
    const p = at();
    const n = 1 + pick(64);
    bytes.fill(pick(2) ? 0 : 0xff, p, p + n);
    return { bytes, how: `fill ${n} at ${p}` };
  }
  if (op === 8) {
    // Copy one stretch of the input over another (plausible-looking garbage).
    const from = at();
    const to = at();
    const n = 1 + pick(32);
    bytes.copyWithin(to, from, from + n);
    return { bytes, how: `copy ${n} from ${from} to ${to}` };
  }
  const p = at();
  bytes[p] = (bytes[p] as number) ^ (1 << pick(8));
  return { bytes, how: `bit flip at ${p}` };
}

/** BPF opcodes worth trying: every class with its common modes, plus garbage. */
const OPCODES = [
  0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87, 0x97,
  0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0xd4, 0xdc, 0x04, 0x0c, 0xb4, 0xbc, 0x18, 0x61, 0x69, 0x71, 0x79,
  0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x45, 0x55,
  0x5d, 0x65, 0x75, 0xa5, 0xb5, 0xc5, 0xd5, 0x16, 0x1e, 0x56, 0x85, 0x95, 0x00, 0xff, 0x8d, 0x91, 0x99,
];

/** Instruction-level damage in a code section: registers (r11–r15 too), opcode, off, imm. */
function tamper(src: Uint8Array, r: () => number, code: Region[]): { bytes: Uint8Array; how: string } {
  const pick = (n: number) => Math.floor(r() * n);
  const bytes = src.slice();
  const sec = code[pick(code.length)] as Region;
  const count = Math.floor((sec.end - sec.start) / 8);
  const edits: string[] = [];
  const n = 1 + pick(3);
  for (let k = 0; k < n && count > 0; k++) {
    const idx = pick(count);
    const p = sec.start + idx * 8;
    const dv = new DataView(bytes.buffer, p, 8);
    switch (pick(6)) {
      case 0:
        dv.setUint8(1, (pick(16) << 4) | pick(16));
        edits.push(`${sec.name}#${idx} regs`);
        break;
      case 1:
        dv.setUint8(1, (dv.getUint8(1) & 0xf0) | (11 + pick(5)));
        edits.push(`${sec.name}#${idx} dst r11-15`);
        break;
      case 2:
        dv.setUint8(0, OPCODES[pick(OPCODES.length)] as number);
        edits.push(`${sec.name}#${idx} opcode`);
        break;
      case 3:
        dv.setInt16(2, pick(2) ? pick(65536) - 32768 : pick(9) - 4, true);
        edits.push(`${sec.name}#${idx} off`);
        break;
      case 4:
        dv.setUint32(4, INTERESTING32[pick(INTERESTING32.length)] as number, true);
        edits.push(`${sec.name}#${idx} imm`);
        break;
      default:
        // A jump or call to somewhere odd.
        dv.setUint8(0, pick(2) ? 0x05 : 0x85);
        dv.setUint8(1, pick(2) ? 0x10 : 0);
        dv.setInt16(2, pick(64) - 32, true);
        dv.setInt32(4, pick(128) - 64, true);
        edits.push(`${sec.name}#${idx} jump/call`);
    }
  }
  return { bytes, how: edits.join('; ') };
}

/** The case with this index: kinds in turn, inputs and mutations from the case's own seed. */
export function makeCase(inputs: Inputs, seed: number, index: number): Case {
  const r = rng(caseSeed(seed, index));
  const pick = (n: number) => Math.floor(r() * n);
  const kind = KINDS[index % KINDS.length] as Kind;
  const tag = `fuzz-${seed}-${index}`;
  switch (kind) {
    case 'object': {
      const o = inputs.objects[pick(inputs.objects.length)] as (typeof inputs.objects)[number];
      const region = pick(4) === 0 ? undefined : o.regions[pick(o.regions.length)];
      const m = mutate(o.bytes, r, region);
      return {
        index,
        kind,
        file: `${tag}-${o.name}`,
        bytes: m.bytes,
        how: `${o.name} ${region?.name ?? ''}: ${m.how}`,
        partner: pick(inputs.kernels.length),
      };
    }
    case 'compat-insn':
    case 'runtime-insn': {
      const o = inputs.objects[pick(inputs.objects.length)] as (typeof inputs.objects)[number];
      // The loader also reads maps, relocations and .BTF.ext: a third of its cases damage those.
      const region = kind === 'runtime-insn' && pick(3) === 0 ? o.regions[pick(o.regions.length)] : undefined;
      const m = region ? mutate(o.bytes, r, region) : tamper(o.bytes, r, o.code);
      return {
        index,
        kind,
        file: `${tag}-${o.name}`,
        bytes: m.bytes,
        how: `${o.name}: ${m.how}`,
        partner: pick(inputs.kernels.length),
      };
    }
    case 'kernel': {
      const k = inputs.kernels[pick(inputs.kernels.length)] as (typeof inputs.kernels)[number];
      const m = mutate(
        k.bytes,
        r,
        pick(2) ? { name: 'header+types', start: 0, end: Math.min(k.bytes.length, 512) } : undefined,
      );
      return {
        index,
        kind,
        file: `${tag}-${k.name}`,
        bytes: m.bytes,
        how: `${k.name}: ${m.how}`,
        partner: pick(inputs.objects.length),
      };
    }
    case 'split': {
      const s = inputs.modules[pick(inputs.modules.length)] as (typeof inputs.modules)[number];
      const m = mutate(
        s.bytes,
        r,
        pick(2) ? { name: 'header+types', start: 0, end: Math.min(s.bytes.length, 512) } : undefined,
      );
      return {
        index,
        kind,
        file: `${tag}-${s.name}`,
        bytes: m.bytes,
        how: `${s.name}: ${m.how}`,
        partner: 0,
      };
    }
    case 'archive': {
      const a = inputs.archives[pick(inputs.archives.length)] as (typeof inputs.archives)[number];
      const m = mutate(a.bytes, r);
      return {
        index,
        kind,
        file: `${tag}-${a.name}`,
        bytes: m.bytes,
        how: `${a.name}: ${m.how}`,
        partner: pick(inputs.objects.length),
      };
    }
  }
}

/** Everything btfkit does with an input of the case's kind, in-process. */
export function runCase(inputs: Inputs, c: Case): void {
  switch (c.kind) {
    case 'object':
    case 'compat-insn': {
      const kernel = inputs.kernels[c.partner] as (typeof inputs.kernels)[number];
      const obj = parseBpfObject(c.bytes, c.file);
      void obj.programs;
      const rel = relocateObject(obj, kernel.btf, { release: kernel.name });
      void rel;
      analyzeCompat([obj], [{ btf: kernel.btf, release: kernel.name }]);
      if (c.kind === 'object') minimizeBtf(kernel.btf, [obj]);
      return;
    }
    case 'runtime-insn':
      prepareLoad(c.bytes, c.file, (inputs.kernels[c.partner] as (typeof inputs.kernels)[number]).btf);
      return;
    case 'kernel': {
      const btf = decodeBtf(c.bytes, { file: c.file });
      dumpRaw(btf);
      dumpC(btf);
      exerciseKernel(inputs, c, btf);
      return;
    }
    case 'split': {
      const btf = decodeBtf(c.bytes, { file: c.file, base: inputs.moduleBase });
      dumpRaw(btf);
      return;
    }
    case 'archive': {
      const k = btfSourceFromBytes(c.bytes, c.file);
      dumpRaw(k.btf);
      exerciseKernel(inputs, c, k.btf);
      return;
    }
  }
}

/** An undamaged object relocated, analysed and minimized against a damaged kernel. */
function exerciseKernel(inputs: Inputs, c: Case, btf: Btf): void {
  const o = inputs.objects[c.partner] as (typeof inputs.objects)[number];
  const obj = parseBpfObject(o.bytes, o.name);
  relocateObject(obj, btf, { release: c.file });
  analyzeCompat([obj], [{ btf, release: c.file, path: c.file }]);
  minimizeBtf(btf, [obj]);
}

/**
 * @btfkit/runtime's loadObject up to the first system call: externs, BTF fix-up and
 * sanitizing, map specs, SEC() resolution, CO-RE, ELF relocations, subprogram linking and
 * data relocations (fake map fds), as the loader runs them.
 */
export function prepareLoad(bytes: Uint8Array, file: string, target: Btf): void {
  // loadObjectSync attributes the object's problems to its file the same way.
  inFile(file, () => prepare(bytes, file, target));
}

function prepare(bytes: Uint8Array, file: string, target: Btf): void {
  const obj = parseBpfObject(bytes, file);
  const externs = collectExterns(obj, obj.btf);
  const btf = fixupBtf(obj, externs);
  sanitizeBtf(btf, { ...ALL_FEATURES, declTag: false, typeTag: false, enum64: false });
  const specs = collectMaps(obj, btf, 2, externs.kconfigSize);
  const core = (obj.ext?.coreRelos.length ?? 0) > 0 ? applyCore(obj, target, 'fuzz') : undefined;
  const code = (p: (typeof obj.programs)[number]) => {
    if (core) return core.code(p);
    const sec = obj.elf.sections[p.sectionIndex];
    return (sec?.data ?? new Uint8Array()).slice(p.insnOffset, p.insnOffset + p.insnCount * 8);
  };
  const relocs = (idx: number) => sectionRelocs(obj, idx, specs, externs);
  for (const p of obj.programs.filter((q) => !q.isSubprog)) {
    resolveSection(p.section);
    const linked = linkProgram(obj, p, code, relocs);
    applyDataRelocs(linked, obj.littleEndian, (i) => 100 + i);
  }
}

/** Runs the case and says how it ended: an error must be a BtfkitError naming a file. */
export function classify(
  inputs: Inputs,
  c: Case,
  hangMs: number,
): { outcome: Outcome; message?: string; ms: number } {
  const t0 = performance.now();
  let outcome: Outcome = 'ok';
  let message: string | undefined;
  try {
    runCase(inputs, c);
  } catch (e) {
    if (e instanceof BtfkitError) {
      outcome = e.file ? 'typed' : 'no-file';
      message = e.message;
    } else {
      outcome = 'internal';
      message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    }
  }
  const ms = performance.now() - t0;
  if (ms > hangMs) return { outcome: 'hang', message: `${ms.toFixed(0)} ms`, ms };
  return { outcome, message, ms };
}
