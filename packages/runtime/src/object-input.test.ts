// Bad objects: loadObject() answers with a BtfkitError (or, when the damage still parses, the
// kernel's refusal as a KernelError), never another exception, and leaks no fds either way.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BtfkitError } from './deps.ts';
import { loadObject } from './loader/pipeline.ts';
import { KernelError } from './sys/errors.ts';

const FIXTURE = join(import.meta.dirname, '../../../test/fixtures/runtime/exectrace.bpf.o');
const good = new Uint8Array(readFileSync(FIXTURE));
const fdCount = (): number => readdirSync('/proc/self/fd').length;

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function outcome(bytes: Uint8Array): Promise<string> {
  try {
    const obj = await loadObject(bytes, { file: 'mutant.bpf.o' });
    await obj.close();
    return 'loaded';
  } catch (e) {
    if (e instanceof BtfkitError) {
      expect(e.message).toMatch(/mutant\.bpf\.o/);
      return 'btfkit';
    }
    if (e instanceof KernelError) return 'kernel';
    throw e;
  }
}

describe('loadObject on bad input', () => {
  it('refuses bytes that are not a BPF object, naming the file', async () => {
    expect(await outcome(new Uint8Array(64))).toBe('btfkit');
    expect(await outcome(new TextEncoder().encode('#!/bin/sh\necho not an ELF\n'))).toBe('btfkit');
  });

  it('truncated objects give BtfkitErrors and leak nothing', async () => {
    const before = fdCount();
    const r = rng(7);
    for (let i = 0; i < 24; i++) {
      const len = Math.floor(r() * good.length);
      expect(['btfkit', 'kernel']).toContain(await outcome(good.slice(0, len)));
    }
    expect(fdCount()).toBe(before);
  });

  it('objects with corrupted bytes give BtfkitErrors or KernelErrors, never anything else', async () => {
    const before = fdCount();
    const r = rng(11);
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const bad = good.slice();
      for (let k = 0; k < 4; k++) bad[Math.floor(r() * bad.length)] = Math.floor(r() * 256);
      seen.add(await outcome(bad));
    }
    expect(fdCount()).toBe(before);
    expect(seen.size).toBeGreaterThan(0);
  });
});
