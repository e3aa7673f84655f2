import type { Btf } from '../btf/btf.ts';
import { KIND_NAMES, Kind } from '../btf/kinds.ts';
import type { BtfType, TypeId } from '../btf/types.ts';
import { RelocationKind } from '../core/kinds.ts';
import { errors } from '../errors/index.ts';

/** What a matched relocation resolved to in the kernel: the root candidate and its access path. */
export interface TargetSpec {
  /** The matching candidate's id (unresolved: a typedef stays a typedef). */
  rootId: TypeId;
  /** Raw access path in the target: raw[0] is the array index on the root, then member/element indices. */
  raw: readonly number[];
}

export interface MarkOptions {
  /**
   * Replicate bpftool 7.1.0's aborts: FWD reached by type/field marking and TYPE_TAG anywhere
   * are "unsupported kind" errors there. Off: FWD is kept as a leaf, TYPE_TAG passed through.
   */
  bpftoolCompat?: boolean;
}

/**
 * The set of kernel types and struct/union members a minimized BTF must keep, built by
 * replaying bpftool's marking rules (core-reference §4.3) over each relocation's target spec.
 * Ids cover the whole id space of `btf` (base ids included for split BTF).
 */
export class MarkSet {
  /** 1 = type id kept. */
  private readonly types: Uint8Array;
  /** Per kept composite: 1 = member index kept. Created on first member mark. */
  readonly members = new Map<TypeId, Uint8Array>();
  private readonly compat: boolean;
  /** Kept ids in marking order: a few hundred of a kernel's ~100k, so emit need not scan `types`. */
  private readonly kept: TypeId[] = [];

  constructor(
    readonly btf: Btf,
    opts: MarkOptions = {},
  ) {
    this.types = new Uint8Array(btf.typeCount);
    this.compat = opts.bpftoolCompat === true;
  }

  isMarked(id: TypeId): boolean {
    return this.types[id] === 1;
  }

  /** The kept ids in [from, to), ascending. */
  keptIds(from: TypeId, to: TypeId): Uint32Array {
    return Uint32Array.from(this.kept.filter((id) => id >= from && id < to)).sort();
  }

  private keep(id: TypeId): void {
    if (this.types[id] === 1) return;
    this.types[id] = 1;
    this.kept.push(id);
  }

  /** Marks what one relocation needs, given the first matching candidate's target spec. */
  record(kind: number, spec: TargetSpec | undefined): void {
    // No matching candidate: bpftool's target spec is empty and marks nothing.
    if (spec === undefined) return;
    switch (kind) {
      case RelocationKind.FieldByteOffset:
      case RelocationKind.FieldByteSize:
      case RelocationKind.FieldExists:
      case RelocationKind.FieldSigned:
      case RelocationKind.FieldLshiftU64:
      case RelocationKind.FieldRshiftU64:
        this.markField(spec);
        return;
      case RelocationKind.TypeIdLocal:
        // Answered from the object's own BTF; the kernel is not consulted.
        return;
      case RelocationKind.TypeIdTarget:
      case RelocationKind.TypeExists:
      case RelocationKind.TypeSize:
        this.markType(spec.rootId, true);
        return;
      case RelocationKind.TypeMatches:
        this.markMatch(spec.rootId, false);
        return;
      case RelocationKind.EnumvalExists:
      case RelocationKind.EnumvalValue:
        // The enum is copied whole, so marking the root keeps every enumerator.
        this.markType(spec.rootId, false);
        return;
      default:
        throw errors.minimize(`unknown CO-RE relocation kind ${kind}`);
    }
  }

  /**
   * Field relocations: keep the root, then walk the target raw path from index 1, keeping each
   * member on the way (anonymous levels included, since they are part of the raw path) and its
   * type; arrays are stepped through to their element type.
   */
  markField(spec: TargetSpec): void {
    const { btf } = this;
    let id = spec.rootId;
    this.markType(id, false);
    for (let i = 1; i < spec.raw.length; i++) {
      id = btf.skipModsAndTypedefs(id);
      const t = btf.type(id);
      if (t.kind === Kind.Struct || t.kind === Kind.Union) {
        const idx = spec.raw[i] as number;
        const m = t.members[idx];
        if (m === undefined) throw errors.minimize(`member index ${idx} out of range in type [${id}]`);
        this.markMember(id, idx, t.members.length);
        id = m.type;
        this.markType(id, false);
      } else if (t.kind === Kind.Array) {
        id = t.type;
      } else {
        throw this.unsupported(t, id);
      }
    }
  }

  /**
   * bpftool's btfgen_mark_type: keep a type and what it cannot be described without.
   * Composites stop here (members are kept only when a path goes through them); pointers are
   * followed only for type-based relocations.
   */
  markType(id: TypeId, followPtrs: boolean): void {
    // A loop, not recursion, along single-successor chains (typedef/modifier/pointer).
    for (let depth = 0; id !== 0; depth++) {
      if (depth > MAX_DEPTH) throw errors.minimize(`type chain too deep at [${id}]`);
      this.keep(id);
      const t = this.btf.type(id);
      switch (t.kind) {
        case Kind.Int:
        case Kind.Float:
        case Kind.Enum:
        case Kind.Enum64:
        case Kind.Struct:
        case Kind.Union:
          return;
        case Kind.Ptr:
          if (!followPtrs) return;
          id = t.type;
          continue;
        case Kind.Const:
        case Kind.Volatile:
        case Kind.Restrict:
        case Kind.Typedef:
          id = t.type;
          continue;
        case Kind.Array:
          this.markType(t.type, followPtrs);
          id = t.indexType;
          continue;
        case Kind.FuncProto:
          this.markType(t.type, followPtrs);
          for (const p of t.params) this.markType(p.type, followPtrs);
          return;
        case Kind.Fwd:
          if (this.compat) throw this.unsupported(t, id);
          return;
        case Kind.TypeTag:
          if (this.compat) throw this.unsupported(t, id);
          id = t.type;
          continue;
        default:
          throw this.unsupported(t, id);
      }
    }
  }

  /**
   * bpftool's btfgen_mark_type_match (TYPE_MATCHES): like markType, but a composite not behind
   * a pointer keeps every member, recursively, since types_match compares all of them.
   */
  markMatch(id: TypeId, behindPtr: boolean, depth = 0): void {
    for (; id !== 0; depth++) {
      if (depth > MAX_DEPTH) throw errors.minimize(`type chain too deep at [${id}]`);
      this.keep(id);
      const t = this.btf.type(id);
      switch (t.kind) {
        case Kind.Int:
        case Kind.Float:
        case Kind.Enum:
        case Kind.Enum64:
          return;
        case Kind.Struct:
        case Kind.Union:
          if (behindPtr) return;
          for (let i = 0; i < t.members.length; i++) {
            this.markMember(id, i, t.members.length);
            this.markMatch((t.members[i] as { type: TypeId }).type, false, depth + 1);
          }
          return;
        case Kind.Const:
        case Kind.Volatile:
        case Kind.Restrict:
        case Kind.Typedef:
          id = t.type;
          continue;
        case Kind.Fwd:
          // FWD's type word is 0: bpftool "recurses" into void, i.e. stops.
          return;
        case Kind.Ptr:
          id = t.type;
          behindPtr = true;
          continue;
        case Kind.Array:
          this.markMatch(t.type, false, depth + 1);
          id = t.indexType;
          behindPtr = false;
          continue;
        case Kind.FuncProto:
          this.markMatch(t.type, false, depth + 1);
          for (const p of t.params) this.markMatch(p.type, false, depth + 1);
          return;
        case Kind.TypeTag:
          if (this.compat) throw this.unsupported(t, id);
          id = t.type;
          continue;
        default:
          throw this.unsupported(t, id);
      }
    }
  }

  private markMember(id: TypeId, idx: number, vlen: number): void {
    let m = this.members.get(id);
    if (m === undefined) {
      m = new Uint8Array(vlen);
      this.members.set(id, m);
    }
    m[idx] = 1;
  }

  private unsupported(t: BtfType, id: TypeId) {
    const kind = t.kind >= 0 ? (KIND_NAMES[t.kind] ?? String(t.kind)) : 'unknown';
    return errors.minimize(`unsupported kind: ${kind.toLowerCase()} (${id})`);
  }
}

/** Far beyond any real type graph; stops a corrupt cyclic graph from hanging. */
const MAX_DEPTH = 4096;
