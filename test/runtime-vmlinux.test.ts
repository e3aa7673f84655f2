import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kernelBtfMapped, runningKernelBtfBytes } from '../packages/runtime/src/sys/kernel-btf.ts';

// The running kernel's BTF as the loader takes it (a private read-only mapping where the
// kernel allows one, Linux 6.16+, else read) is byte for byte what reading the file gives.

const PATH = '/sys/kernel/btf/vmlinux';

describe('running kernel BTF bytes', () => {
  it('equal the file read with read(2)', () => {
    const got = runningKernelBtfBytes(PATH);
    const want = new Uint8Array(readFileSync(PATH));
    expect(got.length).toBe(want.length);
    expect(Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(want))).toBe(true);
    // The kernel's release decides whether it maps: 6.16 added mmap of this file.
    const [major, minor] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number);
    expect(kernelBtfMapped()).toBe(
      (major as number) > 6 || ((major as number) === 6 && (minor as number) >= 16),
    );
  });
});
