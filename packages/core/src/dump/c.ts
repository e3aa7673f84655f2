import type { Btf } from '../btf/btf.ts';
import { LONG_INT_NAMES } from '../btf/kinds.ts';
import type { BtfType, CompositeType, Enum64Type, EnumType } from '../btf/types.ts';
import { BtfKind } from '../btf/wire.ts';
import type { LibbpfVersion } from '../core/profile.ts';
import { errors, inSource } from '../errors/index.ts';
import { checkCTypeGraph, recordOffset } from './c-cycles.ts';
import { sortedTypeIds } from './c-sort.ts';

/**
 * `bpftool btf dump file F format c`: a C header (vmlinux.h). The type order, forward
 * declarations, inline anonymous types, `___N` suffixes for duplicate names and the bit
 * padding follow libbpf's BTF-to-C converter. By default the bytes are bpftool 7.1.0's (libbpf
 * 1.1: id order, no `mode()` attributes); `libbpf: '1.7'` gives bpftool 7.7.0's (libbpf 1.7):
 * types sorted (c-sort.ts) unless `unsorted`, a preamble defining `__ksym`, `__weak` and
 * `__bpf_fastcall`, `mode(byte)`/`mode(word)` on enums whose size C would not give them,
 * and an `extern` prototype for every kfunc (a FUNC tagged `bpf_kfunc`) at the end.
 * Returns bytes: names are copied as the raw bytes of the string section.
 */
export function dumpC(btf: Btf, opts: DumpCOptions = {}): Buffer {
  // What the printer refuses is a property of the BTF's types: say which file holds them.
  return inSource(btf, () => printC(btf, opts));
}

function printC(btf: Btf, opts: DumpCOptions): Buffer {
  const modern = opts.libbpf === '1.7';
  const d = new CDumper(btf, opts.layoutFixes === true || modern);
  // Refuse what has no C spelling (and would make the recursive printer loop) first.
  checkCTypeGraph(btf, d.allTypes);
  d.out.push(HEADER);
  if (modern) d.out.push(PREAMBLE_7_7);
  const n = btf.typeCount;
  try {
    if (modern && opts.unsorted !== true) {
      // bpftool walks its sorted list from the second entry: the type that sorts first
      // (an anonymous enum, if any) is printed only if another type needs it.
      const order = sortedTypeIds({ types: d.allTypes, str: (off) => d.name(off) });
      for (let i = 1; i < order.length; i++) d.dumpType(order[i] as number);
    } else {
      for (let id = 1; id < n; id++) d.dumpType(id);
    }
    if (modern) d.dumpKfuncs();
  } catch (e) {
    // Only a pathological (hundreds of thousands deep, acyclic) chain gets here.
    if (e instanceof RangeError)
      throw errors.unsupported(`type chains too deep for the C printer: ${e.message}`);
    throw e;
  }
  d.out.push(FOOTER);
  return Buffer.from(d.out.join(''), 'latin1');
}

export interface DumpCOptions {
  /**
   * Give enums whose size C cannot express by their values `__attribute__((mode(byte)))` /
   * `mode(word)`, as later libbpf does. Off by default (bpftool 7.1's bytes); without it a
   * 1-byte enum (e.g. 6.12's `enum rw_hint`) becomes 4 bytes in C and shifts every member
   * after it in the structs that embed it.
   */
  layoutFixes?: boolean;
  /** '1.7': bpftool 7.7.0's header (see dumpC). Default '1.1' (bpftool 7.1.0). */
  libbpf?: LibbpfVersion;
  /** With libbpf '1.7': keep id order (`format c unsorted`). */
  unsorted?: boolean;
}

const HEADER =
  '#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n' +
  '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
  '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n' +
  '#endif\n\n';
const PREAMBLE_7_7 =
  '#ifndef __ksym\n#define __ksym __attribute__((section(".ksyms")))\n#endif\n\n' +
  '#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n\n' +
  '#ifndef __bpf_fastcall\n#if __has_attribute(bpf_fastcall)\n' +
  '#define __bpf_fastcall __attribute__((bpf_fastcall))\n#else\n#define __bpf_fastcall\n#endif\n#endif\n\n';
const FOOTER =
  '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n';

enum Order {
  NotOrdered = 0,
  Ordering = 1,
  Ordered = 2,
}
enum Emit {
  NotEmitted = 0,
  Emitting = 1,
  Emitted = 2,
}

/** GCC's internal Arm SIMD typedef targets that BTF carries as INTs; libbpf aliases them. */
const MISSING_BASE_TYPES: Record<string, string> = {
  __Poly8_t: 'unsigned char',
  __Poly16_t: 'unsigned short',
  __Poly64_t: 'unsigned long long',
  __Poly128_t: 'unsigned __int128',
};

/** 2^26 bits = 1M `long: 64;` lines at most for one gap. */
const MAX_PADDING_BITS = 1 << 26;

const TABS = '\t\t\t\t\t\t\t\t\t\t\t\t';
/** Indentation: one tab per level, at most 12 (libbpf's PREFIXES). */
function pfx(lvl: number): string {
  return TABS.slice(0, Math.min(lvl, TABS.length));
}

/** A view of one declaration's chain of type ids (innermost last), consumed from the end. */
interface DeclStack {
  ids: number[];
  cnt: number;
}

class CDumper {
  readonly out: string[] = [];
  private readonly n: number;
  private readonly types: BtfType[];
  private readonly ptrSz: number;
  /** Every type by id (base included; index 0 = void). */
  get allTypes(): readonly BtfType[] {
    return this.types;
  }
  private readonly orderState: Uint8Array;
  private readonly emitState: Uint8Array;
  private readonly fwdEmitted: Uint8Array;
  private readonly referenced: Uint8Array;
  /** One cache for both namespaces, keyed by id, as in libbpf. */
  private readonly cachedNames: (string | undefined)[];
  /** struct/union/enum/fwd tags, and typedef/enumerator identifiers: name -> times seen. */
  private readonly typeNames = new Map<string, number>();
  private readonly identNames = new Map<string, number>();
  private readonly strtabs: { start: number; text: string }[];
  private emitQueue: number[] = [];
  /** Members/enumerators the printer may still emit (see spendDefinition). */
  private budget: number;

  constructor(
    private readonly btf: Btf,
    private readonly layoutFixes: boolean,
  ) {
    this.n = btf.typeCount;
    // Flatten base + split into one id-indexed array (id 0 = void placeholder).
    const chain: Btf[] = [];
    for (let b: Btf | undefined = btf; b; b = b.base) chain.unshift(b);
    this.types = [{ kind: 0, nameOff: 0, kflag: false } as BtfType];
    for (const b of chain) for (const t of b.types) this.types.push(t);
    this.strtabs = chain
      .map((b) => ({ start: b.startStrOff, text: Buffer.from(b.strings).toString('latin1') }))
      .reverse();
    this.orderState = new Uint8Array(this.n);
    this.emitState = new Uint8Array(this.n);
    this.fwdEmitted = new Uint8Array(this.n);
    this.referenced = new Uint8Array(this.n);
    this.cachedNames = new Array(this.n);
    this.orderState[0] = Order.Ordered;
    this.emitState[0] = Emit.Emitted;
    this.ptrSz = this.pointerSize();
    let size = 0;
    for (const t of this.types) {
      size += 1 + ('members' in t ? t.members.length : 'values' in t ? t.values.length : 0);
    }
    this.budget = 8 * size + 4096;
    this.markReferenced();
  }

  private t(id: number): BtfType {
    return this.types[id] as BtfType;
  }

  /** The raw (latin1) string at a string offset. */
  private str(off: number): string {
    for (const s of this.strtabs) {
      if (off >= s.start) {
        const local = off - s.start;
        if (local >= s.text.length) return '';
        const end = s.text.indexOf('\0', local);
        return s.text.slice(local, end < 0 ? s.text.length : end);
      }
    }
    return '';
  }

  /** libbpf's btf__pointer_size() guess for raw BTF: the size of the first INT spelled as a `long`. */
  private pointerSize(): number {
    for (let id = 1; id < this.n; id++) {
      const t = this.t(id);
      if (t.kind !== BtfKind.Int || (t.size !== 4 && t.size !== 8)) continue;
      if (LONG_INT_NAMES.has(this.str(t.nameOff))) return t.size;
    }
    return 8; // sizeof(void *) on the 64-bit hosts bpftool runs on
  }

  /** Anonymous enums count as top-level only when nothing refers to them. */
  private markReferenced(): void {
    const ref = this.referenced;
    for (let id = 1; id < this.n; id++) {
      const t = this.t(id);
      switch (t.kind) {
        case BtfKind.Volatile:
        case BtfKind.Const:
        case BtfKind.Restrict:
        case BtfKind.Ptr:
        case BtfKind.Typedef:
        case BtfKind.Func:
        case BtfKind.Var:
        case BtfKind.DeclTag:
        case BtfKind.TypeTag:
          ref[t.type] = 1;
          break;
        case BtfKind.Array:
          ref[t.indexType] = 1;
          ref[t.type] = 1;
          break;
        case BtfKind.Struct:
        case BtfKind.Union:
          for (const m of t.members) ref[m.type] = 1;
          break;
        case BtfKind.FuncProto:
          ref[t.type] = 1;
          for (const p of t.params) ref[p.type] = 1;
          break;
        case BtfKind.Datasec:
          for (const v of t.vars) ref[v.type] = 1;
          break;
      }
    }
  }

  /** The raw name at a string offset. */
  name(off: number): string {
    return this.str(off);
  }

  /**
   * bpftool >= 7.5's kfunc prototypes: every FUNC a whole-function DECL_TAG names `bpf_kfunc`,
   * sorted by name, as `extern [__bpf_fastcall ]<prototype> __weak __ksym;`
   * (`__bpf_fastcall` when a `bpf_fastcall` tag names the FUNC too).
   */
  dumpKfuncs(): void {
    const kfuncs: number[] = [];
    const fastcalls = new Set<number>();
    for (let id = 1; id < this.n; id++) {
      const t = this.t(id);
      if (t.kind !== BtfKind.DeclTag || t.componentIdx !== -1) continue;
      if (t.type >= this.n || this.t(t.type).kind !== BtfKind.Func) continue;
      const tag = this.str(t.nameOff);
      if (tag === 'bpf_kfunc') kfuncs.push(t.type);
      if (tag === 'bpf_fastcall') fastcalls.add(t.type);
    }
    const names = new Map(kfuncs.map((id) => [id, this.str(this.t(id).nameOff)]));
    kfuncs.sort((a, b) => {
      const x = names.get(a) as string;
      const y = names.get(b) as string;
      return x < y ? -1 : x > y ? 1 : 0;
    });
    this.out.push('\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n');
    for (const id of kfuncs) {
      this.out.push(fastcalls.has(id) ? 'extern __bpf_fastcall ' : 'extern ');
      this.emitTypeDecl((this.t(id) as { type: number }).type, names.get(id) as string, 0);
      this.out.push(' __weak __ksym;\n');
    }
    this.out.push('#endif\n\n');
  }

  dumpType(id: number): void {
    this.emitQueue = [];
    if (this.orderType(id, false) < 0) return;
    for (const q of this.emitQueue) this.emitType(q, 0);
  }

  // ---- ordering (btf_dump_order_type) ----

  /** > 0: a strong (by-value) dependency was ordered; 0: weak; < 0: unsatisfiable cycle. */
  private orderType(id: number, throughPtr: boolean): number {
    if (this.orderState[id] === Order.Ordered) return 1;
    const t = this.t(id);
    if (this.orderState[id] === Order.Ordering) {
      // A loop through a pointer to a named struct/union is broken by a forward declaration.
      if ((t.kind === BtfKind.Struct || t.kind === BtfKind.Union) && throughPtr && t.nameOff !== 0) return 0;
      return -1;
    }
    switch (t.kind) {
      case BtfKind.Int:
      case BtfKind.Float:
        this.orderState[id] = Order.Ordered;
        return 0;
      case BtfKind.Ptr: {
        const err = this.orderType(t.type, true);
        this.orderState[id] = Order.Ordered;
        return err;
      }
      case BtfKind.Array:
        return this.orderType(t.type, false);
      case BtfKind.Struct:
      case BtfKind.Union: {
        // Only by-value use (or anonymity, which forces an inline definition) makes a strong link.
        if (throughPtr && t.nameOff !== 0) return 0;
        this.orderState[id] = Order.Ordering;
        for (const m of t.members) {
          const err = this.orderType(m.type, false);
          if (err < 0) return err;
        }
        if (t.nameOff !== 0) this.emitQueue.push(id);
        this.orderState[id] = Order.Ordered;
        return 1;
      }
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Fwd:
        if (t.nameOff !== 0 || !this.referenced[id]) this.emitQueue.push(id);
        this.orderState[id] = Order.Ordered;
        return 1;
      case BtfKind.Typedef: {
        const isStrong = this.orderType(t.type, throughPtr);
        if (isStrong < 0) return isStrong;
        if (throughPtr && !isStrong) return 0;
        this.emitQueue.push(id);
        this.orderState[id] = Order.Ordered;
        return 1;
      }
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        return this.orderType(t.type, throughPtr);
      case BtfKind.FuncProto: {
        let err = this.orderType(t.type, throughPtr);
        if (err < 0) return err;
        let isStrong = err > 0;
        for (const p of t.params) {
          err = this.orderType(p.type, throughPtr);
          if (err < 0) return err;
          if (err > 0) isStrong = true;
        }
        return isStrong ? 1 : 0;
      }
      case BtfKind.Func:
      case BtfKind.Var:
      case BtfKind.Datasec:
      case BtfKind.DeclTag:
        this.orderState[id] = Order.Ordered;
        return 0;
      default:
        return -1;
    }
  }

  // ---- emission (btf_dump_emit_type) ----

  private isBlacklisted(id: number): boolean {
    const t = this.t(id);
    return t.nameOff !== 0 && this.str(t.nameOff) === '__builtin_va_list';
  }

  private emitType(id: number, contId: number): void {
    const out = this.out;
    const topLevel = contId === 0;
    if (this.emitState[id] === Emit.Emitted) return;
    const t = this.t(id);
    if (this.emitState[id] === Emit.Emitting) {
      if (this.fwdEmitted[id]) return;
      if (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) {
        // A struct referring to itself needs no forward declaration.
        if (id === contId) return;
        if (t.nameOff === 0) return; // anonymous struct/union loop: libbpf warns and skips
        this.emitStructFwd(id, t);
        out.push(';\n\n');
        this.fwdEmitted[id] = 1;
      } else if (t.kind === BtfKind.Typedef) {
        // The typedef serves as its own forward declaration (usable through pointers only).
        if (!this.isBlacklisted(id)) {
          this.emitTypedefDef(id, t, 0);
          out.push(';\n\n');
        }
        this.fwdEmitted[id] = 1;
      }
      return;
    }
    switch (t.kind) {
      case BtfKind.Int: {
        const alias = MISSING_BASE_TYPES[this.typeName(id)];
        if (alias !== undefined) out.push(`typedef ${alias} ${this.typeName(id)};\n\n`);
        this.emitState[id] = Emit.Emitted;
        break;
      }
      case BtfKind.Enum:
      case BtfKind.Enum64:
        if (topLevel) {
          this.emitEnumDef(id, t, 0);
          out.push(';\n\n');
        }
        this.emitState[id] = Emit.Emitted;
        break;
      case BtfKind.Ptr:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        this.emitType(t.type, contId);
        break;
      case BtfKind.Array:
        this.emitType(t.type, contId);
        break;
      case BtfKind.Fwd:
        this.emitFwdDef(id, t);
        out.push(';\n\n');
        this.emitState[id] = Emit.Emitted;
        break;
      case BtfKind.Typedef:
        this.emitState[id] = Emit.Emitting;
        this.emitType(t.type, id);
        if (!this.fwdEmitted[id] && !this.isBlacklisted(id)) {
          this.emitTypedefDef(id, t, 0);
          out.push(';\n\n');
        }
        this.emitState[id] = Emit.Emitted;
        break;
      case BtfKind.Struct:
      case BtfKind.Union:
        this.emitState[id] = Emit.Emitting;
        // A full definition (top level, or anonymous and so inline) needs its members' types
        // declared first; a named struct used inside another only needs a forward declaration.
        if (topLevel || t.nameOff === 0) {
          const newContId = t.nameOff === 0 ? contId : id;
          for (const m of t.members) this.emitType(m.type, newContId);
        } else if (!this.fwdEmitted[id] && id !== contId) {
          this.emitStructFwd(id, t);
          out.push(';\n\n');
          this.fwdEmitted[id] = 1;
        }
        if (topLevel) {
          this.emitStructDef(id, t, 0);
          out.push(';\n\n');
          this.emitState[id] = Emit.Emitted;
        } else {
          this.emitState[id] = Emit.NotEmitted;
        }
        break;
      case BtfKind.FuncProto:
        this.emitType(t.type, contId);
        for (const p of t.params) this.emitType(p.type, contId);
        break;
    }
  }

  // ---- names (btf_dump_resolve_name) ----

  private static dups(map: Map<string, number>, name: string): number {
    const n = (map.get(name) ?? 0) + 1;
    map.set(name, n);
    return n;
  }

  private resolveName(id: number, map: Map<string, number>): string {
    const t = this.t(id);
    if (t.nameOff === 0) return '';
    // Forward declarations (FWD, and an ENUM without values) keep their name and do not
    // count as duplicates: bpftool 7.1 prints `struct X;` / `enum X;` next to `struct X {`.
    if (
      t.kind === BtfKind.Fwd ||
      ((t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) && t.values.length === 0)
    )
      return this.str(t.nameOff);
    const cached = this.cachedNames[id];
    if (cached !== undefined) return cached;
    const orig = this.str(t.nameOff);
    const dup = CDumper.dups(map, orig);
    const name = dup > 1 ? `${orig}___${dup}` : orig;
    this.cachedNames[id] = name;
    return name;
  }

  private typeName(id: number): string {
    return this.resolveName(id, this.typeNames);
  }

  private identName(id: number): string {
    return this.resolveName(id, this.identNames);
  }

  // ---- sizes and alignment (btf__resolve_size, btf__align_of) ----

  private resolveSize(id: number): number {
    let nelems = 1;
    let t = this.t(id);
    for (let i = 0; i < 32 && id !== 0; i++) {
      switch (t.kind) {
        case BtfKind.Int:
        case BtfKind.Struct:
        case BtfKind.Union:
        case BtfKind.Enum:
        case BtfKind.Enum64:
        case BtfKind.Datasec:
        case BtfKind.Float:
          return nelems * t.size;
        case BtfKind.Ptr:
          return nelems * this.ptrSz;
        case BtfKind.Typedef:
        case BtfKind.Volatile:
        case BtfKind.Const:
        case BtfKind.Restrict:
        case BtfKind.Var:
        case BtfKind.DeclTag:
        case BtfKind.TypeTag:
          id = t.type;
          break;
        case BtfKind.Array:
          nelems *= t.nelems;
          id = t.type;
          break;
        default:
          return -1;
      }
      t = this.t(id);
    }
    return -1;
  }

  private alignOf(id: number): number {
    const t = this.t(id);
    switch (t.kind) {
      case BtfKind.Int:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Float:
        return Math.min(this.ptrSz, t.size);
      case BtfKind.Ptr:
        return this.ptrSz;
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        return this.alignOf(t.type);
      case BtfKind.Array:
        return this.alignOf(t.type);
      case BtfKind.Struct:
      case BtfKind.Union: {
        let maxAlign = 1;
        for (const m of t.members) {
          const align = this.alignOf(m.type);
          if (align <= 0) return align;
          maxAlign = Math.max(maxAlign, align);
          // A misaligned non-bitfield member means the struct was packed.
          if (m.bitfieldSize === 0 && rawOffset(t, m) % (8 * align) !== 0) return 1;
        }
        if (t.size % maxAlign !== 0) return 1;
        return maxAlign;
      }
      default:
        return 0;
    }
  }

  private isStructPacked(t: CompositeType): boolean {
    let maxAlign = 1;
    for (const m of t.members) {
      const align = this.alignOf(m.type);
      if (align && m.bitfieldSize === 0 && rawOffset(t, m) % (8 * align) !== 0) return true;
      maxAlign = Math.max(align, maxAlign);
    }
    return t.size % maxAlign !== 0;
  }

  // ---- definitions ----

  /**
   * Anonymous types are printed inline at every use, so a crafted BTF that reuses them
   * could make the output grow exponentially. Real BTF prints each member a few times at
   * most; past a generous multiple of the input's own size, refuse.
   */
  private spendDefinition(lines: number): void {
    this.budget -= lines + 1;
    if (this.budget < 0) {
      throw errors.unsupported(
        'anonymous types are reused so often that the C header would be out of all proportion to the BTF',
      );
    }
  }

  private emitStructFwd(id: number, t: CompositeType): void {
    this.out.push(
      `${t.kind === BtfKind.Struct ? 'struct' : 'union'}${t.nameOff ? ' ' : ''}${this.typeName(id)}`,
    );
  }

  private emitFwdDef(id: number, t: BtfType): void {
    this.out.push(`${t.kflag ? 'union' : 'struct'} ${this.typeName(id)}`);
  }

  private emitTypedefDef(id: number, t: BtfType & { type: number }, lvl: number): void {
    const name = this.identName(id);
    // Old GCC wrote __gnuc_va_list as a typedef of void; libbpf fixes it up.
    if (t.type === 0 && name === '__gnuc_va_list') {
      this.out.push('typedef __builtin_va_list __gnuc_va_list');
      return;
    }
    this.out.push('typedef ');
    this.emitTypeDecl(t.type, name, lvl);
  }

  private emitEnumDef(id: number, t: EnumType | Enum64Type, lvl: number): void {
    this.spendDefinition(t.values.length);
    const out = this.out;
    out.push(`enum${t.nameOff ? ' ' : ''}${this.typeName(id)}`);
    if (t.values.length === 0) return;
    out.push(' {');
    const p = pfx(lvl + 1);
    const signed = t.kflag;
    const values: { nameOff: number }[] = t.values;
    for (let i = 0; i < values.length; i++) {
      const name = this.str((values[i] as { nameOff: number }).nameOff);
      // Enumerators share the identifier namespace with typedefs.
      const dup = CDumper.dups(this.identNames, name);
      const ident = dup > 1 ? `${name}___${dup}` : name;
      let val: string;
      if (t.kind === BtfKind.Enum) {
        const raw = (t.values[i] as EnumType['values'][number]).value;
        val = String(signed ? raw | 0 : raw >>> 0);
      } else {
        const e = t.values[i] as Enum64Type['values'][number];
        const u = (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
        val = signed ? `${BigInt.asIntN(64, u)}LL` : `${u}ULL`;
      }
      out.push(`\n${p}${ident} = ${val},`);
    }
    out.push(`\n${pfx(lvl)}}`);
    if (this.layoutFixes) out.push(this.enumSizeAttribute(t));
  }

  /** The mode() attribute that makes a C enum as wide as the BTF says (layoutFixes only). */
  private enumSizeAttribute(t: EnumType | Enum64Type): string {
    if (t.size === 1) return ' __attribute__((mode(byte)))';
    if (t.size === 8 && this.ptrSz === 8) {
      // A 32-bit ENUM can't hold 64-bit values; an ENUM64 whose values all fit in 32 bits
      // would not grow to 8 bytes on its own.
      const needsWord = t.kind === BtfKind.Enum || (t as Enum64Type).values.every((v) => v.hi === 0);
      if (needsWord) return ' __attribute__((mode(word)))';
    }
    return '';
  }

  private emitStructDef(id: number, t: CompositeType, lvl: number): void {
    const outer = this.structId;
    this.structId = id;
    try {
      this.emitStructBody(id, t, lvl);
    } finally {
      this.structId = outer;
    }
  }

  /** The struct or union being printed (errors about its padding name it). */
  private structId = 0;

  private emitStructBody(id: number, t: CompositeType, lvl: number): void {
    this.spendDefinition(t.members.length);
    const out = this.out;
    const isStruct = t.kind === BtfKind.Struct;
    const packed = isStruct ? this.isStructPacked(t) : false;
    out.push(`${isStruct ? 'struct' : 'union'}${t.nameOff ? ' ' : ''}${this.typeName(id)} {`);
    let off = 0;
    let prevBitfield = false;
    const p = pfx(lvl + 1);
    for (const m of t.members) {
      const fname = this.str(m.nameOff);
      let mSz = m.bitfieldSize;
      const mOff = m.bitOffset;
      const mAlign = packed ? 1 : this.alignOf(m.type);
      const inBitfield = prevBitfield && mSz !== 0;
      this.emitBitPadding(off, mOff, mAlign, inBitfield, lvl + 1);
      out.push(`\n${p}`);
      this.emitTypeDecl(m.type, fname, lvl + 1);
      if (mSz) {
        out.push(`: ${mSz}`);
        off = mOff + mSz;
        prevBitfield = true;
      } else {
        mSz = Math.max(0, this.resolveSize(m.type));
        off = mOff + mSz * 8;
        prevBitfield = false;
      }
      out.push(';');
    }
    if (isStruct) {
      const align = packed ? 1 : this.alignOf(id);
      this.emitBitPadding(off, t.size * 8, align, false, lvl + 1);
    }
    // `struct empty {}` stays on one line.
    if (t.members.length || t.size) out.push(`\n${pfx(lvl)}}`);
    else out.push('}');
    if (packed) out.push(' __attribute__((packed))');
  }

  /**
   * Explicit padding so the compiler reproduces the BTF's offsets: first an alignment mark
   * (`long: 0`, or the bit count inside a bitfield run) to the largest natural boundary that
   * fits, then whole `long: 64`-style fillers, then the smallest type holding the rest.
   */
  private emitBitPadding(
    curOff: number,
    nextOff: number,
    nextAlign: number,
    inBitfield: boolean,
    lvl: number,
  ): void {
    if (curOff >= nextOff) return;
    // A gap of millions of `long: 64;` lines is no real struct: refuse instead of printing GBs.
    if (nextOff - curOff > MAX_PADDING_BITS) {
      throw errors.unsupported(
        `type [${this.structId}] needs ${nextOff - curOff} bits of explicit padding (more than the C printer emits)`,
        undefined,
        recordOffset(this.btf, this.structId),
      );
    }
    const pads: [string, number][] = [
      ['long', this.ptrSz * 8],
      ['int', 32],
      ['short', 16],
      ['char', 8],
    ];
    let padType = 'char';
    let padBits = 8;
    let newOff = curOff;
    for (const [name, bits] of pads) {
      padType = name;
      padBits = bits;
      newOff = roundup(curOff, bits);
      if (newOff <= nextOff) break;
    }
    const p = pfx(lvl);
    if (newOff > curOff && newOff <= nextOff) {
      if (
        inBitfield ||
        (newOff === nextOff && roundup(curOff, nextAlign * 8) !== newOff) ||
        (newOff !== nextOff && nextOff - newOff <= newOff - curOff)
      ) {
        this.out.push(`\n${p}${padType}: ${inBitfield ? newOff - curOff : 0};`);
      }
      curOff = newOff;
    }
    while (curOff !== nextOff) {
      const bits = Math.min(nextOff - curOff, padBits);
      if (bits === padBits) {
        this.out.push(`\n${p}${padType}: ${padBits};`);
        curOff += bits;
        continue;
      }
      for (let i = pads.length - 1; i >= 0; i--) {
        const [name, pb] = pads[i] as [string, number];
        padType = name;
        padBits = pb;
        if (pb < bits) continue;
        this.out.push(`\n${p}${name}: ${bits};`);
        curOff += bits;
        break;
      }
    }
  }

  // ---- declarations (btf_dump_emit_type_decl / _type_chain) ----

  private emitTypeDecl(id: number, fname: string, lvl: number): void {
    const ids: number[] = [];
    for (;;) {
      ids.push(id);
      const t = this.t(id);
      if (id === 0) break;
      const k = t.kind;
      if (
        k === BtfKind.Ptr ||
        k === BtfKind.Volatile ||
        k === BtfKind.Const ||
        k === BtfKind.Restrict ||
        k === BtfKind.FuncProto ||
        k === BtfKind.TypeTag
      ) {
        id = (t as { type: number }).type;
      } else if (k === BtfKind.Array) {
        id = t.type;
      } else break;
    }
    this.emitTypeChain({ ids, cnt: ids.length }, fname, lvl);
  }

  private emitMods(decls: DeclStack): void {
    while (decls.cnt) {
      const k = this.t(decls.ids[decls.cnt - 1] as number).kind;
      if (k === BtfKind.Volatile) this.out.push('volatile ');
      else if (k === BtfKind.Const) this.out.push('const ');
      else if (k === BtfKind.Restrict) this.out.push('restrict ');
      else return;
      decls.cnt--;
    }
  }

  private dropMods(decls: DeclStack): void {
    while (decls.cnt) {
      const id = decls.ids[decls.cnt - 1] as number;
      const k = this.t(id).kind;
      if (
        id === 0 ||
        !(k === BtfKind.Volatile || k === BtfKind.Const || k === BtfKind.Restrict || k === BtfKind.TypeTag)
      )
        return;
      decls.cnt--;
    }
  }

  private emitName(name: string, lastWasPtr: boolean): void {
    this.out.push(name !== '' && !lastWasPtr ? ` ${name}` : name);
  }

  private emitTypeChain(decls: DeclStack, fname: string, lvl: number): void {
    const out = this.out;
    // Whether to glue a `*` to what precedes it (`int ***`, and `(*name)` in function pointers).
    let lastWasPtr = true;
    while (decls.cnt) {
      const id = decls.ids[--decls.cnt] as number;
      if (id === 0) {
        this.emitMods(decls);
        out.push('void');
        lastWasPtr = false;
        continue;
      }
      const t = this.t(id);
      switch (t.kind) {
        case BtfKind.Int:
        case BtfKind.Float:
          this.emitMods(decls);
          out.push(this.str(t.nameOff));
          break;
        case BtfKind.Struct:
        case BtfKind.Union:
          this.emitMods(decls);
          if (t.nameOff === 0) this.emitStructDef(id, t, lvl);
          else this.emitStructFwd(id, t);
          break;
        case BtfKind.Enum:
        case BtfKind.Enum64:
          this.emitMods(decls);
          if (t.nameOff === 0) this.emitEnumDef(id, t, lvl);
          else out.push(`enum ${this.typeName(id)}`);
          break;
        case BtfKind.Fwd:
          this.emitMods(decls);
          this.emitFwdDef(id, t);
          break;
        case BtfKind.Typedef:
          this.emitMods(decls);
          out.push(this.identName(id));
          break;
        case BtfKind.Ptr:
          out.push(lastWasPtr ? '*' : ' *');
          break;
        case BtfKind.Volatile:
          out.push(' volatile');
          break;
        case BtfKind.Const:
          out.push(' const');
          break;
        case BtfKind.Restrict:
          out.push(' restrict');
          break;
        case BtfKind.TypeTag:
          this.emitMods(decls);
          out.push(` __attribute__((btf_type_tag("${this.str(t.nameOff)}")))`);
          break;
        case BtfKind.Array: {
          // const/volatile on an array (a GCC quirk) mean nothing in C: dropped.
          this.dropMods(decls);
          if (decls.cnt === 0) {
            this.emitName(fname, lastWasPtr);
            out.push(`[${t.nelems}]`);
            return;
          }
          const next = this.t(decls.ids[decls.cnt - 1] as number);
          const multidim = next.kind === BtfKind.Array && decls.ids[decls.cnt - 1] !== 0;
          if (fname !== '' && !lastWasPtr) out.push(' ');
          if (!multidim) out.push('(');
          this.emitTypeChain(decls, fname, lvl);
          if (!multidim) out.push(')');
          out.push(`[${t.nelems}]`);
          return;
        }
        case BtfKind.FuncProto: {
          // GCC's extra volatile on noreturn function pointers: dropped likewise.
          this.dropMods(decls);
          if (decls.cnt) {
            out.push(' (');
            this.emitTypeChain(decls, fname, lvl);
            out.push(')');
          } else {
            this.emitName(fname, lastWasPtr);
          }
          out.push('(');
          const ps = t.params;
          if (ps.length === 0 || (ps.length === 1 && ps[0]?.type === 0)) {
            out.push('void)');
            return;
          }
          for (let i = 0; i < ps.length; i++) {
            const p = ps[i] as (typeof ps)[number];
            if (i > 0) out.push(', ');
            // A trailing void parameter is the `...` of a variadic function.
            if (i === ps.length - 1 && p.type === 0) {
              out.push('...');
              break;
            }
            this.emitTypeDecl(p.type, this.str(p.nameOff), lvl);
          }
          out.push(')');
          return;
        }
        default:
          return;
      }
      lastWasPtr = t.kind === BtfKind.Ptr;
    }
    this.emitName(fname, lastWasPtr);
  }
}

function roundup(x: number, y: number): number {
  return Math.ceil(x / y) * y;
}

/** The member's offset word as stored (libbpf tests `m->offset`, bitfield size bits included). */
function rawOffset(t: CompositeType, m: CompositeType['members'][number]): number {
  return t.kflag ? ((m.bitfieldSize << 24) | m.bitOffset) >>> 0 : m.bitOffset;
}
