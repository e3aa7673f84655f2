import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSkeletonModel, parseBpfObject } from '@btfkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSkeleton } from '../packages/core/src/codegen/skeleton.js';
import { compileBpf } from './fixtures/clang.ts';

// A generated module's load() rejects a caller's mistake before touching the kernel, with an
// error shaped like core's BtfkitError (name, stable code) that names what was wrong. The
// skeleton is built from clang's object for the plugin-load fixture (globals target_tgid, mark).

const SRC = join(import.meta.dirname, 'fixtures/plugin/load/counter.bpf.c');

// biome-ignore lint/suspicious/noExplicitAny: the untyped skeleton (its d.ts types come from codegen)
let model: any;
let bytes: Uint8Array;

beforeAll(() => {
  const out = join(mkdtempSync(join(tmpdir(), 'btfkit-skel-err-')), 'counter.bpf.o');
  compileBpf(SRC, out);
  bytes = new Uint8Array(readFileSync(out));
  const parsed = parseBpfObject(bytes, out);
  model = JSON.parse(
    JSON.stringify(
      buildSkeletonModel(
        { file: out, btf: parsed.btf, sections: parsed.elf.sections, programs: parsed.programs },
        'counter',
      ),
    ),
  );
});

describe('skeleton load() errors', () => {
  it('an unknown global is BAD_OPTION naming it, the object and the real globals; no runtime is loaded', async () => {
    let runtimeLoaded = false;
    // biome-ignore lint/suspicious/noExplicitAny: the untyped skeleton
    const skel: any = createSkeleton(model, {
      object: { bytes },
      kernels: [],
      loadRuntime: async () => {
        runtimeLoaded = true;
        throw new Error('the runtime must not be reached');
      },
    });
    const err = await skel.load({ globals: { target_tgid: 1, no_such_var: 2 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('BtfkitError');
    expect(err.code).toBe('BAD_OPTION');
    expect(err.message).toBe(
      "btfkit: load(): 'no_such_var' is not a global of counter (its globals: target_tgid, mark)",
    );
    expect(runtimeLoaded).toBe(false);
  });

  it('a build without a runtime loader is UNSUPPORTED', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the untyped skeleton
    const skel: any = createSkeleton(model, { object: { bytes }, kernels: [] });
    const err = await skel.load({ kernelBtf: false }).catch((e: unknown) => e);
    expect(err.name).toBe('BtfkitError');
    expect(err.code).toBe('UNSUPPORTED');
    expect(err.message).toMatch(/^btfkit: counter: load\(\) needs @btfkit\/runtime/);
  });
});
