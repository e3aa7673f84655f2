// compat judges a program on the code libbpf would load: one kernel's CO-RE decisions applied
// to a decoded copy of the object's code (compat/image.ts relocatedImage). It replays them
// with the engine's own write step (core/patch.ts writePatch, poisonRelocated), so for every
// program its image must hold exactly the instructions of the engine's patched copy, the
// bytes the runtime loads into the kernel (held to libbpf's decisions by core.fixtures and
// core-profiles, and to the verifier by the runtime tests). The core fixtures bring the
// loads libbpf resizes (a field of another size on the target, both byte orders, both libbpf
// profiles); the corpus brings 41 real tools against 7 distro kernels.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Btf } from '../packages/core/src/btf/index.ts';
import { toDecision } from '../packages/core/src/compat/analyze.ts';
import { objectCode, relocatedImage } from '../packages/core/src/compat/image.ts';
import { relocateObject } from '../packages/core/src/core/index.ts';
import { parseBpfObject } from '../packages/core/src/elf/index.ts';
import { decodeInsns, INSN_SIZE } from '../packages/core/src/insn/index.ts';
import { readBtfSourceSync } from '../packages/core/src/kernels/index.ts';
import { kernelArchives, objectFiles, releaseOf } from './fixtures/btf/corpus.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/core/obj');

interface Tally {
  programs: number;
  resized: number;
  poisoned: number;
  mismatches: string[];
}

/** Compares compat's image of every program with the engine's patched copy, for each kernel and profile. */
function compare(objectPath: string, targets: readonly { release: string; btf: Btf }[], tally: Tally): void {
  const obj = parseBpfObject(readFileSync(objectPath), objectPath);
  const code = objectCode(obj);
  for (const t of targets) {
    for (const libbpf of ['1.1', '1.7'] as const) {
      const engine = relocateObject(obj, t.btf, { release: t.release, libbpf });
      // libbpf refuses the object: nothing is loaded, and compat reports the error instead.
      if (engine.failed) continue;
      for (const r of engine.relocations) {
        if ('memSize' in r.outcome && r.outcome.memSize) tally.resized++;
        if ('poison' in r.outcome) tally.poisoned++;
      }
      const image = relocatedImage(code, engine.relocations.map(toDecision));
      for (const p of engine.programs) {
        const prog = obj.programs.find((q) => q.name === p.name && q.section === p.section);
        if (prog === undefined) throw new Error(`${objectPath}: no program ${p.name}`);
        const first = prog.insnOffset / INSN_SIZE;
        const ours = (image.insns(prog.sectionIndex) ?? []).slice(first, first + prog.insnCount);
        tally.programs++;
        const want = decodeInsns(p.insns, obj.littleEndian);
        const at = want.findIndex((w, i) => JSON.stringify(w) !== JSON.stringify(ours[i]));
        if (at >= 0 || ours.length !== want.length)
          tally.mismatches.push(
            `${basename(objectPath)} ${p.name} @ ${t.release} (libbpf ${libbpf}): insn ${at}`,
          );
      }
    }
  }
}

describe("compat's relocated image is the engine's patched code", () => {
  it('for the core fixtures (resized loads, poison, both byte orders) against both target objects', () => {
    const targets = ['target_a', 'target_b'].map((release) => ({
      release,
      btf: readBtfSourceSync(join(FIXTURES, `${release}.o`)).btf,
    }));
    const tally: Tally = { programs: 0, resized: 0, poisoned: 0, mismatches: [] };
    for (const f of readdirSync(FIXTURES).sort()) {
      if (f.endsWith('.o') && !f.startsWith('target_')) compare(join(FIXTURES, f), targets, tally);
    }
    expect(tally.mismatches).toEqual([]);
    // The loads libbpf resizes are what compat used to leave at their old size.
    expect(tally.resized).toBeGreaterThan(0);
    expect(tally.poisoned).toBeGreaterThan(0);
    expect(tally.programs).toBeGreaterThan(50);
  });

  it('for every corpus object against every corpus kernel', () => {
    const targets = kernelArchives().map((a) => ({ release: releaseOf(a), btf: readBtfSourceSync(a).btf }));
    const tally: Tally = { programs: 0, resized: 0, poisoned: 0, mismatches: [] };
    for (const f of objectFiles()) compare(f, targets, tally);
    expect(tally.mismatches).toEqual([]);
    expect(tally.poisoned).toBeGreaterThan(0);
    expect(tally.programs).toBeGreaterThan(4000);
  });
});
