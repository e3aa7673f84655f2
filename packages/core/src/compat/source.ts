import type { Btf } from '../btf/btf.ts';
import { Kind } from '../btf/kinds.ts';
import type { CoreRelo, LineInfo } from '../btfext/btfext.ts';
import { extInfoSectionName, extSectionName } from '../btfext/btfext.ts';
import type { BpfObject } from '../elf/object.ts';
import { INSN_SIZE } from '../insn/index.ts';
import type { SourceLine } from './model.ts';

/**
 * Source positions from .BTF.ext line_info: for an instruction, the record with the greatest
 * insn_off not past it, as the kernel's verifier log and bpftool's `linum` do.
 */
export class LineTable {
  /** Built on the first lookup: only findings (poisoned instructions) ask for source lines. */
  private bySection: Map<number, LineInfo[]> | undefined;

  constructor(private readonly obj: BpfObject) {}

  private sections(): Map<number, LineInfo[]> {
    if (this.bySection === undefined) {
      this.bySection = new Map();
      for (const sec of this.obj.ext?.lineInfo ?? []) {
        const name = extInfoSectionName(this.obj.btf, sec);
        const elfSec = name === undefined ? undefined : this.obj.elf.section(name);
        if (!elfSec) continue;
        const list = [...sec.records].sort((a, b) => a.insnOff - b.insnOff);
        this.bySection.set(elfSec.index, list);
      }
    }
    return this.bySection;
  }

  at(sec: number, idx: number): SourceLine | undefined {
    const list = this.sections().get(sec);
    if (!list || list.length === 0) return undefined;
    const off = idx * INSN_SIZE;
    let lo = 0;
    let hi = list.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid] as LineInfo).insnOff <= off) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const rec = list[best];
    if (!rec) return undefined;
    const { btf } = this.obj;
    const str = (o: number) => (btf.hasString(o) ? btf.str(o) : '');
    return { file: str(rec.fileNameOff), line: rec.line, column: rec.column, text: str(rec.lineOff).trim() };
  }
}

/** The CO-RE records of an object by `section name / record index`, to describe decisions. */
export function coreRecords(obj: BpfObject): Map<string, CoreRelo> {
  const out = new Map<string, CoreRelo>();
  for (const sec of obj.ext?.coreRelos ?? []) {
    const name = extSectionName(obj.btf, sec);
    sec.records.forEach((r, i) => {
      out.set(`${name}/${i}`, r);
    });
  }
  return out;
}

const TYPE_KINDS = new Set(['local_type_id', 'target_type_id', 'type_exists', 'type_size', 'type_matches']);
const ENUMVAL_KINDS = new Set(['enumval_exists', 'enumval_value']);

/**
 * A relocation in C terms, from the object's own BTF: `struct inet_sock.freebind`,
 * `struct task_struct`, `enum bpf_func_id::BPF_FUNC_loop`. Used when the relocation engine
 * gives no C path of its own.
 */
export function describeRelo(btf: Btf, relo: CoreRelo, kind: string): string {
  if (!btf.has(relo.typeId)) return `type #${relo.typeId}`;
  const access = btf.hasString(relo.accessStrOff) ? btf.str(relo.accessStrOff) : '';
  const root = typeLabel(btf, relo.typeId);
  if (TYPE_KINDS.has(kind)) return root;
  const nums = access.split(':').map((s) => Number.parseInt(s, 10));
  if (ENUMVAL_KINDS.has(kind)) {
    const t = btf.type(btf.skipModsAndTypedefs(relo.typeId));
    const v = t.kind === Kind.Enum || t.kind === Kind.Enum64 ? t.values[nums[0] ?? -1] : undefined;
    return v ? `${root}::${btf.str(v.nameOff)}` : `${root}::#${access}`;
  }
  let out = root;
  if ((nums[0] ?? 0) !== 0) out += `[${nums[0]}]`;
  let cur = relo.typeId;
  for (const n of nums.slice(1)) {
    const t = btf.type(btf.skipModsAndTypedefs(cur));
    if (t.kind === Kind.Struct || t.kind === Kind.Union) {
      const m = t.members[n];
      if (!m) return `${out}.#${n}`;
      const name = btf.str(m.nameOff);
      if (name) out += `.${name}`;
      cur = m.type;
    } else if (t.kind === Kind.Array) {
      out += `[${n}]`;
      cur = t.type;
    } else return `${out}:${n}`;
  }
  return out;
}

function typeLabel(btf: Btf, id: number): string {
  const t = btf.type(id);
  const name = btf.name(id) || '<anon>';
  switch (t.kind) {
    case Kind.Struct:
      return `struct ${name}`;
    case Kind.Union:
      return `union ${name}`;
    case Kind.Enum:
    case Kind.Enum64:
      return `enum ${name}`;
    default:
      return name;
  }
}
