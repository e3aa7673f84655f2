import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

// The stage order of docs/internals.md, checked on every import of the shipped sources
// (tests aside): a stage imports only itself and earlier stages, no file takes part in an
// import cycle (type-only imports included: a cycle there means a type lives in the wrong
// file), and the other packages reach core only through its package name.

const ROOT = join(import.meta.dirname, '..');
const CORE = join(ROOT, 'packages/core/src');

/** Stages in order; stages on one line of docs/internals.md (dump/codegen) share a rank. */
const STAGES: readonly (readonly string[])[] = [
  ['errors'],
  ['bytes'],
  ['wasm'],
  ['sections'],
  ['insn'],
  ['btf'],
  ['btfext'],
  ['elf'],
  ['io'],
  ['kernels'],
  ['core'],
  ['minimize'],
  ['compat'],
  ['dump', 'codegen'],
  ['cli'],
];
const RANK = new Map(STAGES.flatMap((names, rank) => names.map((n) => [n, rank] as const)));

/**
 * Every module a file names: static imports and re-exports, value or type-only (`import type`,
 * `import { type X }`, `export type { X } from`), side-effect imports, and `import('...')`,
 * which also covers a type written as `typeof import('...')`.
 */
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter(
      (e) =>
        e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts'),
    )
    .map((e) => join(e.parentPath, e.name));
}

function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec) out.push(spec);
  }
  return out;
}

function imports(file: string): string[] {
  return specifiers(readFileSync(file, 'utf8'));
}

/** Each cycle of a file graph, as `a -> b -> a` (names relative to `root`). */
function findCycles(graph: ReadonlyMap<string, readonly string[]>, root: string): string[] {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const to of graph.get(f) ?? []) {
      if (!graph.has(to)) continue;
      if (state.get(to) === 'open') {
        cycles.push(
          stack
            .slice(stack.indexOf(to))
            .concat(to)
            .map((x) => relative(root, x))
            .join(' -> '),
        );
      } else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return cycles;
}

function stageOf(file: string): string {
  return relative(CORE, file).split(sep)[0] ?? '';
}

describe('layering', () => {
  const files = sources(CORE);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    graph.set(
      f,
      imports(f)
        .filter((s) => s.startsWith('.'))
        .map((s) => resolve(dirname(f), s)),
    );
  }

  it('knows the stage of every folder of packages/core/src', () => {
    const stages = new Set(files.map(stageOf).filter((s) => !s.endsWith('.ts')));
    for (const s of stages) expect(RANK.has(s), `stage ${s} is not in the stage order`).toBe(true);
  });

  it('has no stage importing a later one', () => {
    const wrong: string[] = [];
    for (const [from, tos] of graph) {
      const a = RANK.get(stageOf(from));
      if (a === undefined) continue; // index.ts at the root re-exports everything
      for (const to of tos) {
        const b = RANK.get(stageOf(to));
        if (b !== undefined && b > a) wrong.push(`${relative(CORE, from)} -> ${relative(CORE, to)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no import cycle between files', () => {
    expect(findCycles(graph, CORE)).toEqual([]);
  });

  it('counts type-only and side-effect imports as edges, so a cycle through types is found', () => {
    // Two files whose only link each way is a type: the shape btf.ts <-> records.ts
    // (LayoutEntry) and kernel-read.ts <-> protocol.ts (Timings) once had.
    const a = '/src/a.ts';
    const b = '/src/b.ts';
    const sourcesOf: Record<string, string> = {
      [a]: "import type { B } from './b.ts';\nexport interface A { b: B }\n",
      [b]: "import {\n  type A,\n} from './a.ts';\nexport type B = A[];\n",
    };
    const typeGraph = new Map(
      Object.entries(sourcesOf).map(([f, text]) => [f, specifiers(text).map((s) => resolve(dirname(f), s))]),
    );
    expect(findCycles(typeGraph, '/src')).toEqual(['a.ts -> b.ts -> a.ts']);
    expect(
      specifiers(
        [
          "export type { C } from './c.ts';",
          "import './d.ts';",
          "type E = typeof import('./e.ts');",
          "export * from './f.ts';",
        ].join('\n'),
      ),
    ).toEqual(['./c.ts', './d.ts', './e.ts', './f.ts']);
  });

  it('lets runtime and the plugin reach core only by its package name', () => {
    const wrong: string[] = [];
    for (const pkg of ['runtime', 'unplugin']) {
      for (const f of sources(join(ROOT, 'packages', pkg, 'src'))) {
        for (const s of imports(f)) {
          if (s.startsWith('.') && resolve(dirname(f), s).startsWith(join(ROOT, 'packages/core')))
            wrong.push(`${relative(ROOT, f)} imports ${s}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
