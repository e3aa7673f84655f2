// Inputs that are not regular files: a character device without end (/dev/zero), a FIFO,
// special files inside a kernel tree, a --kernels argument that is a symlink loop. Each is
// read within the stream bound (io/bounded-read.ts, 512 MiB), skipped, or named with its errno.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWholeBounded } from '../packages/core/src/io/bounded-read.ts';
import { btfkit, expectCleanError } from './fixtures/cli.ts';
import { CORPUS } from './fixtures/compat/support.ts';

const RELEASE = '6.1.0-47-amd64';
const ARCHIVE = join(CORPUS, `kernels/debian/12/x86_64/${RELEASE}.btf.tar.xz`);
const OBJECT = join(CORPUS, 'objects/biopattern.bpf.o');
const dir = mkdtempSync(join(tmpdir(), 'btfkit-nonregular-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('non-regular inputs', () => {
  it('dump /dev/zero stops at the bound with one line (under a 3 GB address-space limit)', () => {
    const r = btfkit(['dump', '/dev/zero'], { prefix: 'ulimit -v 3000000; exec' });
    expectCleanError(r);
    expect(r.stderr).toBe(
      'btfkit dump: /dev/zero: cannot read BTF file: not a regular file, and longer than 512 MiB (the most read from a pipe or device)\n',
    );
  });

  it('the bounded read refuses a device past its bound, naming it; reads a regular file as it is', () => {
    expect(() => readWholeBounded('/dev/zero', 'BPF object', 4 << 20)).toThrow(
      /^\/dev\/zero: cannot read BPF object: not a regular file, and longer than 4 MiB/,
    );
    expect(readWholeBounded(OBJECT, 'BPF object', 4).equals(readFileSync(OBJECT))).toBe(true);
  });

  it('a FIFO is read whole: dump equals bpftool on the same kernel', async () => {
    execFileSync('tar', ['-xJf', ARCHIVE, '-C', dir]);
    const raw = join(dir, `${RELEASE}.btf`);
    const fifo = join(dir, 'kernel.fifo');
    execFileSync('mkfifo', [fifo]);
    // A writer in another process, as a shell's process substitution would be.
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', raw, fifo]);
    const r = btfkit(['dump', fifo]);
    await new Promise((resolve) => writer.on('exit', resolve));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      execFileSync('bpftool', ['btf', 'dump', 'file', raw], { maxBuffer: 1 << 28 }).toString(),
    );
  });

  it('inside a kernel tree, FIFOs and links to devices are skipped', () => {
    const tree = join(dir, 'tree/debian/12/x86_64');
    mkdirSync(tree, { recursive: true });
    symlinkSync(ARCHIVE, join(tree, `${RELEASE}.btf.tar.xz`));
    execFileSync('mkfifo', [join(tree, '6.1.0-99-amd64.btf.tar.xz')]);
    symlinkSync('/dev/zero', join(tree, '6.1.0-98-amd64.btf.tar.xz'));
    const r = btfkit(['compat', '--kernels', join(dir, 'tree'), OBJECT]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\[1\] 6\.1\.0-47-amd64 /);
    expect(r.stdout).not.toMatch(/6\.1\.0-9[89]/);
  });

  it('a --kernels argument that is a symlink loop says ELOOP', () => {
    symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'));
    symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'));
    const r = btfkit(['compat', '--kernels', join(dir, 'loop-a'), OBJECT]);
    expectCleanError(r);
    expect(r.stderr).toMatch(new RegExp(`^btfkit compat: ${dir}/loop-a: cannot read kernel BTF: ELOOP`));
  });
});
