import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtfkitError } from '../errors/index.ts';
import { listKernels } from './list.ts';
import { parseOsRelease, runningKernel } from './running.ts';
import { btfSourceFromBytes, readBtfSource, readBtfSourceSync } from './source.ts';
import { xzDecompressedSize } from './xz.ts';

const ROOT = resolve(import.meta.dirname, '../../../..');
const CORPUS = join(ROOT, 'test/corpus');
const KERNELS = join(CORPUS, 'kernels');
const MAKE_TARS = join(ROOT, 'test/fixtures/kernels/make-tars.py');
const SMALL_BTF = join(CORPUS, 'expected/min/6.1.0-47-cloud-amd64/biosnoop.btf');

function findTarXz(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.btf.tar.xz'))
    .map((f) => join(dir, f))
    .sort();
}
const corpusKernels = findTarXz(KERNELS);

/** bpftool's count of types in a BTF file: one "[id] KIND …" line per type. */
function bpftoolTypeCount(file: string, base?: string): number {
  const args = ['btf', 'dump', 'file', file, ...(base ? ['--base-btf', base] : [])];
  const out = execFileSync('bpftool', args, { maxBuffer: 512 << 20 }).toString();
  return out.split('\n').filter((l) => l.startsWith('[')).length;
}

function catchError(fn: () => unknown): BtfkitError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BtfkitError) return e;
    throw e;
  }
  throw new Error('expected a BtfkitError');
}

let tmp = '';
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'btfkit-kernels-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('corpus kernels: .btf.tar.xz and raw', () => {
  it.each(corpusKernels.map((p) => [relative(KERNELS, p), p]))('%s', async (_, path) => {
    const release = (path.split('/').pop() as string).replace(/\.btf\.tar\.xz$/, '');
    const fromTar = readBtfSourceSync(path);
    const fromTarAsync = await readBtfSource(path);
    expect(fromTar.release).toBe(release);
    expect(fromTarAsync.release).toBe(release);
    expect(Buffer.from(fromTarAsync.bytes).equals(Buffer.from(fromTar.bytes))).toBe(true);

    // The same kernel extracted by GNU tar: identical raw bytes, same types as bpftool sees.
    const dir = mkdtempSync(join(tmp, 'x-'));
    execFileSync('tar', ['-xJf', path, '-C', dir]);
    const raw = join(dir, `${release}.btf`);
    const rawBytes = readFileSync(raw);
    expect(Buffer.from(fromTar.bytes).equals(rawBytes)).toBe(true);
    const fromRaw = readBtfSourceSync(raw);
    expect(fromRaw.release).toBe(release);
    const count = bpftoolTypeCount(raw);
    expect(fromRaw.btf.typeCount - 1).toBe(count);
    expect(fromTar.btf.typeCount - 1).toBe(count);
  });

  it('reads the running kernel from /sys/kernel/btf/vmlinux', async () => {
    const k = await readBtfSource('/sys/kernel/btf/vmlinux');
    expect(k.release).toBe(execSync('uname -r').toString().trim());
    expect(k.btf.typeCount - 1).toBe(bpftoolTypeCount('/sys/kernel/btf/vmlinux'));
    expect(k.btf.byName('task_struct').length).toBeGreaterThan(0);
  });
});

describe('split BTF of modules over the 6.1.0-47-cloud-amd64 base', () => {
  const modules = join(CORPUS, 'modules/6.1.0-47-cloud-amd64');
  let baseRaw = '';
  beforeAll(() => {
    const dir = mkdtempSync(join(tmp, 'base-'));
    execFileSync('tar', [
      '-xJf',
      join(KERNELS, 'debian/12/x86_64/6.1.0-47-cloud-amd64.btf.tar.xz'),
      '-C',
      dir,
    ]);
    baseRaw = join(dir, '6.1.0-47-cloud-amd64.btf');
  });

  it.each(readdirSync(modules).sort())('%s', (m) => {
    const base = readBtfSourceSync(baseRaw).btf;
    const mod = readBtfSourceSync(join(modules, m), { base });
    expect(mod.btf.startId).toBe(base.typeCount);
    expect(mod.btf.types.length).toBe(bpftoolTypeCount(join(modules, m), baseRaw));
    // Without its base the module's string offsets and ids dangle: a typed error.
    expect(catchError(() => readBtfSourceSync(join(modules, m))).file).toBe(join(modules, m));
  });
});

describe('ELF sources', () => {
  it('a vmlinux-style ELF: gcc -g, then pahole -J adds .BTF', () => {
    const dir = mkdtempSync(join(tmp, 'elf-'));
    const c = join(dir, 'kern.c');
    writeFileSync(
      c,
      'struct list_head { struct list_head *next, *prev; };\n' +
        'struct task_struct { int pid; long state; struct list_head tasks; char comm[16]; };\n' +
        'struct task_struct init_task;\nint get_pid(struct task_struct *t) { return t->pid; }\n',
    );
    const elf = join(dir, 'vmlinux');
    execFileSync('gcc', ['-g', '-O1', '-c', c, '-o', elf]);
    execFileSync('pahole', ['-J', elf]);
    const k = readBtfSourceSync(elf);
    expect(k.btf.typeCount - 1).toBe(bpftoolTypeCount(elf));
    expect(k.btf.byName('task_struct').length).toBe(1);
    expect(k.release).toBeUndefined();
  });

  it('a BPF object used as a target (its .BTF)', () => {
    const obj = join(CORPUS, 'objects/biosnoop.bpf.o');
    const k = readBtfSourceSync(obj);
    expect(k.btf.typeCount - 1).toBe(bpftoolTypeCount(obj));
  });

  it('an ELF without .BTF is a typed error at the section table', () => {
    const dir = mkdtempSync(join(tmp, 'nobtf-'));
    writeFileSync(join(dir, 'a.c'), 'int x;\n');
    execFileSync('gcc', ['-c', join(dir, 'a.c'), '-o', join(dir, 'a.o')]);
    const e = catchError(() => readBtfSourceSync(join(dir, 'a.o')));
    expect(e.code).toBe('BAD_ELF');
    expect(e.file).toBe(join(dir, 'a.o'));
    expect(e.message).toContain('.BTF');
  });

  it('unknown formats and missing files', () => {
    const e = catchError(() => btfSourceFromBytes(new TextEncoder().encode('hello'), 'h.txt'));
    expect([e.code, e.file, e.offset]).toEqual(['BAD_MAGIC', 'h.txt', 0]);
    expect(catchError(() => readBtfSourceSync(join(tmp, 'missing.btf'))).code).toBe('NOT_FOUND');
  });
});

describe('btfhub tar.xz archives written by Python tarfile + liblzma', () => {
  let dir = '';
  const arch = (c: string) => join(dir, c, '5.0.0-test.btf.tar.xz');
  beforeAll(() => {
    dir = mkdtempSync(join(tmp, 'tars-'));
    execFileSync('python3', [MAKE_TARS, SMALL_BTF, dir]);
  });

  it.each(['good', 'good-pax', 'good-dot-slash'])('accepts %s', (c) => {
    const k = readBtfSourceSync(arch(c));
    expect(k.release).toBe('5.0.0-test');
    expect(Buffer.from(k.bytes).equals(readFileSync(SMALL_BTF))).toBe(true);
  });

  it.each([
    ['two-files', 'another entry'],
    ['wrong-name', "named '5.0.0-test.btf'"],
    ['nested-name', "named '5.0.0-test.btf'"],
    ['absolute', 'absolute'],
    ['dotdot', 'stays inside'],
    ['dotdot-pax', 'stays inside'],
    ['symlink', 'regular file'],
    ['hardlink', 'regular file'],
    ['directory', 'regular file'],
    ['empty', 'found none'],
  ])('refuses %s with BAD_TAR', async (c, words) => {
    const e = catchError(() => readBtfSourceSync(arch(c)));
    expect(e.code).toBe('BAD_TAR');
    expect(e.file).toBe(arch(c));
    expect(e.offset).toBeTypeOf('number');
    expect(e.message).toContain(words);
    await expect(readBtfSource(arch(c))).rejects.toBeInstanceOf(BtfkitError);
  });

  it('a corrupted xz stream is BAD_XZ', () => {
    const bytes = new Uint8Array(readFileSync(arch('good')));
    // Flip a byte of compressed data (past the 12-byte stream header and the block header).
    const i = 40;
    bytes[i] = (bytes[i] as number) ^ 0x55;
    const e = catchError(() => btfSourceFromBytes(bytes, arch('good')));
    expect(e.code).toBe('BAD_XZ');
    expect(e.file).toBe(arch('good'));
  });

  it('the decompressed size is known before decompressing, and bounded', () => {
    // xz(1) reports the uncompressed size from the index: our header walk must agree.
    for (const p of [...corpusKernels.slice(0, 2), arch('good')]) {
      const list = execFileSync('xz', ['--robot', '-l', p]).toString();
      const totals = list.split('\n').find((l) => l.startsWith('totals')) as string;
      expect(xzDecompressedSize(readFileSync(p), p)).toBe(Number(totals.split('\t')[4]));
    }
    // A real bomb (48 MiB of zeros in a few KB) against a 32 MiB limit.
    const bomb = join(tmp, 'bomb', '9.9.9.btf.tar.xz');
    mkdirSync(join(tmp, 'bomb'));
    execFileSync('sh', ['-c', `head -c ${48 << 20} /dev/zero | xz -0 -T1 > ${bomb}`]);
    const e = catchError(() => readBtfSourceSync(bomb, { maxDecompressed: 32 << 20 }));
    expect(e.code).toBe('BAD_XZ');
    expect(e.message).toContain(`expected at most ${32 << 20} decompressed bytes`);
  });

  it('refuses chunk headers declaring more than 512 MiB, without decompressing', () => {
    // A stream whose LZMA2 chunks claim 300 × 2 MiB and then end early: the running total
    // passes the limit at chunk 257, before the walk reaches the missing end.
    const head = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46];
    const blockHeader = [0x02, 0x00, 0x21, 0x01, 0x16, 0x00, 0x00, 0x00, 0, 0, 0, 0];
    const parts: number[] = [...head, ...blockHeader];
    for (let i = 0; i < 300; i++) parts.push(0x80 | 0x1f, 0xff, 0xff, 0x00, 0x00, 0x00);
    const e = catchError(() => btfSourceFromBytes(new Uint8Array(parts), '1.0.btf.tar.xz'));
    expect(e.code).toBe('BAD_XZ');
    expect(e.message).toContain(`expected at most ${512 << 20} decompressed bytes`);
    expect(e.offset).toBe(24 + 256 * 6);
  });
});

describe('listKernels', () => {
  it('lists the corpus tree with btfhub coordinates, sorted', () => {
    const list = listKernels([KERNELS]);
    const expected = corpusKernels.map((p) => {
      const [distro, version, arch, file] = relative(KERNELS, p).split('/');
      return { distro, version, arch, release: file?.replace(/\.btf\.tar\.xz$/, ''), path: p };
    });
    expect(list).toHaveLength(7);
    expect([...list].sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual(expected);
    expect(list.map((k) => `${k.version}/${k.arch}/${k.release}`)).toEqual([
      '11/x86_64/5.10.0-32-amd64',
      '11/x86_64/5.10.0-32-cloud-amd64',
      '12/arm64/6.1.0-47-cloud-arm64',
      '12/x86_64/6.1.0-47-amd64',
      '12/x86_64/6.1.0-47-cloud-amd64',
      '12/x86_64/6.1.0-47-rt-amd64',
      '12/x86_64/6.12.111+deb12-cloud-amd64',
    ]);
  });

  it('ignores junk inside trees and hidden directories; refuses junk named explicitly', () => {
    const root = mkdtempSync(join(tmp, 'tree-'));
    const mk = (p: string, data = 'x') => {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), data);
    };
    mk('README.md');
    mk('.git/objects/5.1.btf');
    mk('ubuntu/20.04/x86_64/5.4.0-1-generic.btf.tar.xz');
    mk('ubuntu/20.04/x86_64/notes.txt');
    mk('centos/7/x86_64/3.10.0-1160.el7.x86_64.btf');
    mk('debian/9/arm64/4.9.0-19-arm64.btf.tar.xz');
    mk('debian/10/arm64/4.19.0-1-arm64.btf.tar.xz');
    mk('loose/6.0.btf');
    const list = listKernels([root]);
    expect(list.map((k) => [k.distro, k.version, k.arch, k.release])).toEqual([
      [undefined, undefined, undefined, '6.0'],
      ['centos', '7', 'x86_64', '3.10.0-1160.el7.x86_64'],
      ['debian', '9', 'arm64', '4.9.0-19-arm64'],
      ['debian', '10', 'arm64', '4.19.0-1-arm64'],
      ['ubuntu', '20.04', 'x86_64', '5.4.0-1-generic'],
    ]);
    const e = catchError(() => listKernels([join(root, 'ubuntu/20.04/x86_64/notes.txt')]));
    expect(e.code).toBe('BAD_OPTION');
    expect(e.message).toContain('notes.txt');
    expect(catchError(() => listKernels([join(root, 'nope')])).code).toBe('NOT_FOUND');
    // Globs and single files, deduplicated.
    const viaGlob = listKernels([
      `${root}/debian/*/arm64/*.btf.tar.xz`,
      join(root, 'debian/9/arm64/4.9.0-19-arm64.btf.tar.xz'),
    ]);
    expect(viaGlob.map((k) => k.release)).toEqual(['4.9.0-19-arm64', '4.19.0-1-arm64']);
  });
});

describe('runningKernel and os-release', () => {
  it('parses quoted and unquoted values', () => {
    const centos = parseOsRelease(
      'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n',
    );
    expect(centos).toMatchObject({
      ID: 'centos',
      VERSION_ID: '7',
      ID_LIKE: 'rhel fedora',
      NAME: 'CentOS Linux',
    });
    const fedora = parseOsRelease(
      '# comment\nNAME=Fedora\nID=fedora\nVERSION_ID=31\n\nPRETTY_NAME="Fedora 31 (\\"Thirty One\\")"\n',
    );
    expect(fedora).toEqual({
      NAME: 'Fedora',
      ID: 'fedora',
      VERSION_ID: '31',
      PRETTY_NAME: 'Fedora 31 ("Thirty One")',
    });
    expect(parseOsRelease("ID='ol'\r\nVERSION_ID='8.6'\r\n")).toEqual({ ID: 'ol', VERSION_ID: '8.6' });
  });

  it('normalizes as btfhub names its directories', () => {
    const run = (text: string, m: string) =>
      runningKernel({ osRelease: text, uname: { machine: m, release: 'r' } });
    expect(run('ID="rhel"\nVERSION_ID="8.6"', 'aarch64')).toEqual({
      distro: 'rhel',
      version: '8',
      arch: 'arm64',
      release: 'r',
    });
    expect(run('ID=ubuntu\nVERSION_ID="20.04"', 'x86_64')).toEqual({
      distro: 'ubuntu',
      version: '20.04',
      arch: 'x86_64',
      release: 'r',
    });
    expect(run('ID="amzn"\nVERSION_ID="2018.03"', 'x86_64').version).toBe('2018');
    expect(run('ID="sles"\nVERSION_ID="15.3"', 'x86_64').version).toBe('15.3');
  });

  it('describes this machine as the shell and uname do', () => {
    const sh = execSync('. /etc/os-release; printf "%s\\n%s\\n" "$ID" "$VERSION_ID"; uname -m; uname -r')
      .toString()
      .split('\n');
    const k = runningKernel();
    expect(k.distro).toBe(sh[0]);
    expect(k.release).toBe(sh[3]);
    expect(k.arch).toBe(sh[2] === 'aarch64' ? 'arm64' : sh[2]);
    if (k.distro === 'debian' || k.distro === 'ubuntu') expect(k.version).toBe(sh[1]);
  });
});
