import type { Btf } from '../btf/btf.ts';
import { recordSize } from '../btf/decode.ts';
import type { BtfType } from '../btf/types.ts';
import { BtfKind } from '../btf/wire.ts';
import { errors } from '../errors/index.ts';

/**
 * The C printer (like libbpf's) recurses along type references. Two kinds of reference
 * cycle have no C spelling and would recurse forever, so they are refused up front:
 *  - a cycle that passes through no named struct/union (a typedef or pointer chain that
 *    reaches itself, or an anonymous struct that contains itself): C can only close a
 *    cycle through a struct tag;
 *  - a cycle of by-value containment (members, arrays, typedefs and modifiers, no pointer):
 *    a type of infinite size.
 * Both walks are iterative, so a long chain cannot overflow the stack either.
 */
export function checkCTypeGraph(btf: Btf, types: readonly BtfType[]): void {
  const n = types.length;
  const named = (t: BtfType) => (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) && t.nameOff !== 0;
  findCycle(
    btf,
    types,
    n,
    (t, push) => {
      if (!named(t)) refs(t, push, true);
    },
    'refers back to itself without passing through a named struct or union',
  );
  findCycle(btf, types, n, (t, push) => refs(t, push, false), 'contains itself by value');
}

/** Pushes the ids a type refers to; pointers and function parts only when `all`. */
function refs(t: BtfType, push: (id: number) => void, all: boolean): void {
  switch (t.kind) {
    case BtfKind.Ptr:
    case BtfKind.Func:
    case BtfKind.Var:
    case BtfKind.DeclTag:
      if (all) push(t.type);
      break;
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      push(t.type);
      break;
    case BtfKind.Array:
      push(t.type);
      break;
    case BtfKind.Struct:
    case BtfKind.Union:
      for (let i = 0; i < t.members.length; i++) push((t.members[i] as { type: number }).type);
      break;
    case BtfKind.FuncProto:
      if (all) {
        push(t.type);
        for (let i = 0; i < t.params.length; i++) push((t.params[i] as { type: number }).type);
      }
      break;
    case BtfKind.Datasec:
      if (all) for (let i = 0; i < t.vars.length; i++) push((t.vars[i] as { type: number }).type);
      break;
  }
}

/** Iterative three-colour DFS over ids 1..n-1; throws at the first back edge. */
function findCycle(
  btf: Btf,
  types: readonly BtfType[],
  n: number,
  edges: (t: BtfType, push: (id: number) => void) => void,
  what: string,
): void {
  const colour = new Uint8Array(n); // 0 new, 1 on the current path, 2 done
  const adj: number[][] = new Array(n);
  const stack: number[] = [];
  const next: number[] = [];
  for (let root = 1; root < n; root++) {
    if (colour[root] !== 0) continue;
    stack.push(root);
    next.push(0);
    colour[root] = 1;
    while (stack.length > 0) {
      const top = stack.length - 1;
      const id = stack[top] as number;
      let out = adj[id];
      if (out === undefined) {
        const list: number[] = [];
        edges(types[id] as BtfType, (to) => {
          if (to !== 0 && to < n) list.push(to);
        });
        adj[id] = list;
        out = list;
      }
      const k = next[top] as number;
      if (k < out.length) {
        next[top] = k + 1;
        const to = out[k] as number;
        if (colour[to] === 1) {
          throw errors.unsupported(
            `type [${to}] ${what}: it has no C declaration`,
            undefined,
            recordOffset(btf, to),
          );
        }
        if (colour[to] === 0) {
          colour[to] = 1;
          stack.push(to);
          next.push(0);
        }
      } else {
        colour[id] = 2;
        adj[id] = EMPTY;
        stack.pop();
        next.pop();
      }
    }
  }
}

const EMPTY: number[] = [];

/** Byte offset of a type's record from the start of its BTF blob (for the error). */
/** Where type `id`'s record starts in its BTF's bytes (for errors about it). */
export function recordOffset(btf: Btf, id: number): number | undefined {
  let b: Btf | undefined = btf;
  while (b && id < b.startId) b = b.base;
  if (!b) return undefined;
  const h = b.header;
  let off = (h?.hdrLen ?? 24) + (h?.typeOff ?? 0);
  for (let i = 0; i < id - b.startId; i++) off += recordSize(b.types[i] as BtfType);
  return off;
}
