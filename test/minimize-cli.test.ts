import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { linkAtomic } from '../packages/core/src/minimize/files.ts';
import { bpftool, CORPUS, extractKernels, kernelArchives, releaseOf } from './fixtures/btf/corpus.ts';
import { cliArgs } from './fixtures/minimize/build.ts';

/**
 * The min-core-btf command as a user meets it: bad input (a clear error naming the file, and
 * nothing written), and the batch mode over the corpus's btfhub tree (outputs equal bpftool's
 * expected/min, identical results shared, resume, interruption, manifest, non-TTY summary).
 */

const tmp = mkdtempSync(join(tmpdir(), 'btfkit-min-cli-'));
const kernels = extractKernels();
afterAll(() => {
  kernels.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

const OBJECT = join(CORPUS, 'objects/opensnoop.bpf.o');
const RAW = kernels.raw.get('6.1.0-47-cloud-amd64') as string;

function cli(args: string[]) {
  const [cmd, argv] = cliArgs(['min-core-btf', ...args]);
  return spawnSync(cmd, argv, { encoding: 'utf8' });
}

/** Every file under `dir`, relative, sorted (temp files included: none may be left). */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const expectedMin = (release: string) => readFileSync(join(CORPUS, 'expected/min', release, 'opensnoop.btf'));

describe('min-core-btf: bad input is a clear error naming the file, and nothing is written', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['missing kernel', () => [join(tmp, 'no-such-kernel.btf')], /no-such-kernel\.btf: .*not found/],
    [
      'kernel that is not BTF',
      () => {
        const p = join(tmp, 'junk-kernel.btf');
        writeFileSync(p, 'this is not BTF at all');
        return [p];
      },
      /junk-kernel\.btf at offset 0 \(0x0\): expected raw BTF .*found 74 68 69 73/,
    ],
    [
      'truncated kernel',
      () => {
        const p = join(tmp, 'truncated.btf');
        writeFileSync(p, readFileSync(RAW).subarray(0, 100_000));
        return [p];
      },
      /truncated\.btf at offset \d+ \(0x[0-9a-f]+\): expected /,
    ],
  ];
  for (const [name, kernel, message] of cases) {
    it(name, () => {
      const out = join(tmp, name.replaceAll(' ', '-'), 'out.btf');
      mkdirSync(join(out, '..'));
      const r = cli([...kernel(), out, OBJECT]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('internal error');
      expect(files(join(out, '..'))).toEqual([]);
    });
  }

  const objectCases: [string, () => string, RegExp][] = [
    ['missing object', () => join(tmp, 'nope.bpf.o'), /nope\.bpf\.o: BPF object not found/],
    ['unreadable object (a directory)', () => tmp, new RegExp(`${tmp}: cannot read BPF object: EISDIR`)],
    [
      'object that is not ELF',
      () => {
        const p = join(tmp, 'junk.bpf.o');
        writeFileSync(p, Buffer.alloc(200, 0x41));
        return p;
      },
      /junk\.bpf\.o at offset 0 \(0x0\): expected .*ELF/,
    ],
    [
      'object without .BTF.ext',
      () => {
        const p = join(tmp, 'noext.bpf.o');
        execFileSync('llvm-objcopy-19', ['--remove-section', '.BTF.ext', OBJECT, p]);
        return p;
      },
      /noext\.bpf\.o: expected a \.BTF\.ext section/,
    ],
  ];
  for (const [name, object, message] of objectCases) {
    it(name, () => {
      const dir = join(tmp, name.replace(/\W+/g, '-'));
      mkdirSync(dir);
      // An existing OUT is left as it was.
      const out = join(dir, 'out.btf');
      writeFileSync(out, 'previous');
      const r = cli([RAW, out, OBJECT, object()]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('internal error');
      expect(files(dir)).toEqual(['out.btf']);
      expect(readFileSync(out, 'utf8')).toBe('previous');
    });
  }

  it('refuses to write over an input', () => {
    const copy = join(tmp, 'copy.bpf.o');
    cpSync(OBJECT, copy);
    const r = cli([RAW, copy, copy]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`refusing to overwrite input file ${copy}`);
    expect(readFileSync(copy)).toEqual(readFileSync(OBJECT));
  });

  it('refuses to write over an input named another way (.., a symlink, a hard link)', () => {
    const dir = join(tmp, 'rv');
    mkdirSync(dir);
    const obj = join(dir, 'obj.o');
    cpSync(OBJECT, obj);
    const kernel = join(dir, 'kernel.btf');
    cpSync(RAW, kernel);
    symlinkSync(obj, join(dir, 'sym.o'));
    linkSync(kernel, join(dir, 'hard.btf'));
    const dotted = join(dir, '..', 'rv', 'obj.o');
    for (const [out, args, input] of [
      [obj, [RAW, obj, dotted], dotted],
      [join(dir, 'sym.o'), [RAW, join(dir, 'sym.o'), obj], obj],
      [join(dir, 'hard.btf'), [kernel, join(dir, 'hard.btf'), obj], kernel],
    ] as [string, string[], string][]) {
      const r = cli(args);
      expect(r.status, out).toBe(1);
      expect(r.stderr).toContain(`refusing to overwrite input file ${input} with ${out}`);
    }
    expect(readFileSync(obj)).toEqual(readFileSync(OBJECT));
    expect(readFileSync(kernel)).toEqual(readFileSync(RAW));
    // A missing OUT is no clash.
    expect(cli([RAW, join(dir, 'new.btf'), dotted]).status).toBe(0);
  });

  it('a kernel directory with junk files: junk kernels are named, nothing is published; fixed, it resumes', () => {
    const tree = join(tmp, 'junk-tree');
    const good = kernelArchives().find((a) => releaseOf(a) === '6.1.0-47-cloud-amd64') as string;
    const dir = join(tree, 'debian/12/x86_64');
    mkdirSync(dir, { recursive: true });
    cpSync(good, join(dir, basename(good)));
    writeFileSync(join(tree, 'README.md'), '# not a kernel\n');
    writeFileSync(join(dir, '9.9.9-junk.btf'), Buffer.alloc(64, 0xff));
    writeFileSync(join(dir, '9.9.8-junk.btf.tar.xz'), 'not xz');
    const out = join(tmp, 'junk-out');
    const r = cli(['-q', '--kernels', tree, '--out-dir', out, OBJECT]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/9\.9\.9-junk\.btf at offset 0 \(0x0\): expected raw BTF/);
    expect(r.stderr).toMatch(/9\.9\.8-junk\.btf\.tar\.xz.*: expected/);
    expect(r.stderr).not.toContain('README');
    expect(r.stderr).toContain('2 failed');
    // No manifest and no tree: only the resume cache (the store and the stamps) remains.
    const written = files(out);
    expect(written.filter((f) => !f.startsWith('btf/') && !f.startsWith('.stamps/'))).toEqual([]);
    expect(written.filter((f) => f.startsWith('.stamps/'))).toEqual([
      '.stamps/debian/12/x86_64/6.1.0-47-cloud-amd64.json',
    ]);

    // Fixed (one junk file replaced by a real kernel, the other removed), the batch resumes:
    // the good kernel is not minimized again, and everything is published.
    rmSync(join(dir, '9.9.8-junk.btf.tar.xz'));
    cpSync(RAW, join(dir, '9.9.9-junk.btf'));
    const again = cli(['-q', '--kernels', tree, '--out-dir', out, OBJECT]);
    expect(again.stderr).toContain('2 kernels (1 minimized, 1 already done, 0 failed');
    expect(again.status).toBe(0);
    for (const release of ['6.1.0-47-cloud-amd64', '9.9.9-junk']) {
      expect(readFileSync(join(out, `debian/12/x86_64/${release}.btf`))).toEqual(
        expectedMin('6.1.0-47-cloud-amd64'),
      );
    }
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.kernels.map((k: { release: string }) => k.release)).toEqual([
      '6.1.0-47-cloud-amd64',
      '9.9.9-junk',
    ]);
  });

  it("a failed batch withdraws an earlier run's manifest and tree", () => {
    const tree = join(tmp, 'withdraw-tree/debian/12/x86_64');
    mkdirSync(tree, { recursive: true });
    cpSync(RAW, join(tree, '6.1.0-47-cloud-amd64.btf'));
    const out = join(tmp, 'withdraw-out');
    const root = join(tmp, 'withdraw-tree');
    expect(cli(['-q', '--kernels', root, '--out-dir', out, OBJECT]).status).toBe(0);
    expect(existsSync(join(out, 'manifest.json'))).toBe(true);
    writeFileSync(join(tree, '9.9.9-junk.btf'), 'junk');
    expect(cli(['-q', '--kernels', root, '--out-dir', out, OBJECT]).status).toBe(1);
    expect(files(out).filter((f) => !f.startsWith('btf/') && !f.startsWith('.stamps/'))).toEqual([]);
  });

  it('a missing kernel tree is an error and creates nothing', () => {
    const out = join(tmp, 'never');
    const r = cli(['--kernels', join(tmp, 'no-such-tree'), '--out-dir', out, OBJECT]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no-such-tree');
    expect(existsSync(out)).toBe(false);
  });
});

describe('min-core-btf --kernels: the corpus btfhub tree', () => {
  const out = join(tmp, 'batch');
  const releases = kernelArchives().map(releaseOf);
  const distinct = new Set(releases.map((r) => sha256(expectedMin(r))));

  it('writes bpftool-identical files, identical ones shared, a manifest and one summary line', () => {
    expect(distinct.size).toBe(2); // bpftool's own outputs: six kernels agree, one differs
    const r = cli(['-q', '--kernels', join(CORPUS, 'kernels'), '--out-dir', out, OBJECT]);
    expect(r.status).toBe(0);
    // Not a terminal: no progress bar, just one summary line.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: a progress bar is made of CR and ANSI escapes
    expect(r.stderr).not.toMatch(/[\r\x1b]/);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^min-core-btf: 7 kernels \(7 minimized, 0 already done, 0 failed, 0 with unsatisfied relocations\) → 2 distinct files in .* \(worker time: decompress [\d.]+s, decode [\d.]+s, relocate [\d.]+s, emit [\d.]+s\)$/,
    );

    const store = readdirSync(join(out, 'btf')).sort();
    expect(store).toEqual([...distinct].map((h) => `${h.slice(0, 16)}.btf`).sort());

    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.format).toBe('btfkit-min-core-btf-manifest/1');
    expect(manifest.kernels).toHaveLength(7);
    for (const archive of kernelArchives()) {
      const release = releaseOf(archive);
      const [arch, version, distro] = archive.split('/').reverse().slice(1, 4);
      const want = expectedMin(release);
      const tree = `${distro}/${version}/${arch}/${release}.btf`;
      expect(readFileSync(join(out, tree)), tree).toEqual(want);
      const entry = manifest.kernels.find((k: { release: string }) => k.release === release);
      expect(entry).toEqual({
        distro,
        version,
        arch,
        release,
        source: relative(join(CORPUS, 'kernels'), archive),
        file: `btf/${sha256(want).slice(0, 16)}.btf`,
        path: tree,
        sha256: sha256(want),
        size: want.length,
        unsatisfied: 0,
      });
      // The tree file is the store file (a hard link), not a copy.
      expect(statSync(join(out, tree)).ino).toBe(statSync(join(out, entry.file)).ino);
    }
  });

  it('--jobs 2 (worker threads) publishes the same bytes as the single-runner path', () => {
    const workers = join(tmp, 'batch-workers');
    const r = cli(['-q', '--jobs', '2', '--kernels', join(CORPUS, 'kernels'), '--out-dir', workers, OBJECT]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^min-core-btf: 7 kernels \(7 minimized, 0 already done, 0 failed/);
    for (const archive of kernelArchives()) {
      const release = releaseOf(archive);
      const [arch, version, distro] = archive.split('/').reverse().slice(1, 4);
      const tree = `${distro}/${version}/${arch}/${release}.btf`;
      expect(readFileSync(join(workers, tree)), tree).toEqual(expectedMin(release));
    }
    expect(readFileSync(join(workers, 'manifest.json'), 'utf8')).toBe(
      readFileSync(join(out, 'manifest.json'), 'utf8'),
    );
  });

  it('the manifest does not depend on where the tree sits: two copies give the same bytes', () => {
    const manifests = ['copy-a', 'copy-b'].map((name) => {
      const root = join(tmp, name, 'checkout');
      const two = kernelArchives().slice(0, 2);
      for (const a of two) cpSync(a, join(root, relative(join(CORPUS, 'kernels'), a)), { recursive: true });
      const o = join(tmp, name, 'out');
      const r = cli(['-q', '--kernels', root, '--out-dir', o, OBJECT]);
      expect(r.status).toBe(0);
      return readFileSync(join(o, 'manifest.json'), 'utf8');
    });
    expect(manifests[0]).toBe(manifests[1]);
    expect(manifests[0]).not.toContain(tmp);
    // Files given one by one: relative to the working directory.
    const root = join(tmp, 'copy-a', 'checkout');
    const [cmd, argv] = cliArgs([
      'min-core-btf',
      '-q',
      '--kernels',
      ...kernelArchives()
        .slice(0, 2)
        .map((a) => relative(join(CORPUS, 'kernels'), a)),
      '--out-dir',
      join(tmp, 'copy-a', 'out-files'),
      OBJECT,
    ]);
    // Run from inside the copy: tsx is then given by its resolved URL, not its package name.
    const tsx = import.meta.resolve('tsx');
    const r = spawnSync(
      cmd,
      argv.map((a) => (a === 'tsx' ? tsx : a)),
      { encoding: 'utf8', cwd: root },
    );
    expect(r.stderr).toContain('2 kernels (2 minimized');
    expect(r.status).toBe(0);
    expect(readFileSync(join(tmp, 'copy-a', 'out-files', 'manifest.json'), 'utf8')).toBe(manifests[0]);
  });

  it('a second run does nothing', () => {
    const before = files(out).map((f) => [f, statSync(join(out, f)).mtimeMs]);
    const r = cli(['-q', '--kernels', join(CORPUS, 'kernels'), '--out-dir', out, OBJECT]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('7 kernels (0 minimized, 7 already done, 0 failed');
    const after = files(out).map((f) => [f, statSync(join(out, f)).mtimeMs]);
    // Only the manifest is rewritten.
    expect(after.filter(([f]) => f !== 'manifest.json')).toEqual(
      before.filter(([f]) => f !== 'manifest.json'),
    );
  });

  it('a removed tree file is relinked from the store; a removed store file is redone, only that one', () => {
    const tree = join(out, 'debian/12/x86_64/6.1.0-47-rt-amd64.btf');
    rmSync(tree);
    let r = cli(['-q', '--kernels', join(CORPUS, 'kernels'), '--out-dir', out, OBJECT]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('7 kernels (0 minimized, 7 already done, 0 failed');
    expect(readFileSync(tree)).toEqual(expectedMin('6.1.0-47-rt-amd64'));
    // The one kernel whose bpftool output differs from the six others has a store file alone.
    const lone = releases.find(
      (x) => releases.filter((y) => sha256(expectedMin(y)) === sha256(expectedMin(x))).length === 1,
    ) as string;
    const want = expectedMin(lone);
    rmSync(join(out, 'btf', `${sha256(want).slice(0, 16)}.btf`));
    r = cli(['-q', '--kernels', join(CORPUS, 'kernels'), '--out-dir', out, OBJECT]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('7 kernels (1 minimized, 6 already done, 0 failed');
    const path = files(out).find((f) => f.endsWith(`/${lone}.btf`)) as string;
    expect(readFileSync(join(out, path))).toEqual(want);
  });
});

describe('--kernels FILE: any kernel source named explicitly, whatever its name', () => {
  // The running kernel's coordinates as the shell sees them: uname(1) and os-release(5).
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
  const running = {
    distro: sh('. /etc/os-release && echo "$ID"'),
    version: sh('. /etc/os-release && echo "$VERSION_ID"'),
    arch: sh('uname -m'),
    release: sh('uname -r'),
  };
  const VMLINUX = '/sys/kernel/btf/vmlinux';
  const dir = join(tmp, 'explicit');
  const oddName = join(dir, 'my kernel.raw');

  it('min-core-btf: /sys/kernel/btf/vmlinux and a raw BTF named anyhow, in the tree and the manifest', () => {
    mkdirSync(dir);
    cpSync(RAW, oddName);
    const out = join(dir, 'out');
    const r = cli(['-q', '--kernels', VMLINUX, oddName, '--out-dir', out, OBJECT]);
    expect(r.stderr).toContain('2 kernels (2 minimized, 0 already done, 0 failed');
    expect(r.status).toBe(0);
    const bpftoolOut = join(dir, 'bpftool-running.btf');
    bpftool(['gen', 'min_core_btf', VMLINUX, bpftoolOut, OBJECT]);
    const runningTree = `${running.distro}/${running.version}/${running.arch}/${running.release}.btf`;
    expect(readFileSync(join(out, runningTree))).toEqual(readFileSync(bpftoolOut));
    expect(readFileSync(join(out, 'my kernel.raw.btf'))).toEqual(expectedMin('6.1.0-47-cloud-amd64'));
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    const brief = manifest.kernels.map((k: Record<string, unknown>) => [
      k.distro,
      k.version,
      k.arch,
      k.release,
      k.path,
    ]);
    expect(brief).toContainEqual([
      running.distro,
      running.version,
      running.arch,
      running.release,
      runningTree,
    ]);
    expect(brief).toContainEqual([undefined, undefined, undefined, 'my kernel.raw', 'my kernel.raw.btf']);
  });

  it('min-core-btf KERNEL: /sys/kernel/btf/vmlinux as the one kernel, bytes as bpftool writes them', () => {
    mkdirSync(dir, { recursive: true });
    const out = join(dir, 'single-running.btf');
    const r = cli(['-q', VMLINUX, out, OBJECT]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const bpftoolOut = join(dir, 'bpftool-single-running.btf');
    bpftool(['gen', 'min_core_btf', VMLINUX, bpftoolOut, OBJECT]);
    expect(readFileSync(out)).toEqual(readFileSync(bpftoolOut));
  });

  it('compat: the same two files', () => {
    const [cmd, argv] = cliArgs(['compat', '--json', '--kernels', VMLINUX, oddName, OBJECT]);
    const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout);
    const ks = result.kernels.map((k: Record<string, unknown>) => [k.distro, k.version, k.arch, k.release]);
    expect(ks).toContainEqual([running.distro, running.version, running.arch, running.release]);
    expect(ks).toContainEqual([undefined, undefined, undefined, 'my kernel.raw']);
  });

  it('a named file that is no kernel source at all is refused, naming it', () => {
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'hello\n');
    const r = cli(['--kernels', notes, '--out-dir', join(dir, 'never'), OBJECT]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${notes}: expected a kernel BTF`);
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});

describe('compat: an OBJECT not named *.o after --kernels', () => {
  const compat = (args: string[]) => {
    const [cmd, argv] = cliArgs(['compat', ...args]);
    return spawnSync(cmd, argv, { encoding: 'utf8' });
  };
  const obj = join(tmp, 'opensnoop-object');

  it('is named, not swallowed silently', () => {
    cpSync(OBJECT, obj);
    const r = compat(['--kernels', RAW, obj]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${obj}: a BPF object among the --kernels arguments`);
    expect(r.stderr).toContain('compat needs at least one OBJECT');
    // Even with another OBJECT after it, the object is not read as a kernel.
    const both = compat(['--kernels', RAW, obj, OBJECT]);
    expect(both.status).toBe(1);
    expect(both.stderr).toContain(`${obj}: a BPF object among the --kernels arguments`);
  });

  it("works placed after '--' or before --kernels", () => {
    for (const args of [
      ['-q', '--kernels', RAW, '--', obj],
      ['-q', obj, '--kernels', RAW],
    ]) {
      const r = compat(args);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.stdout).toMatch(/program × kernel pairs/);
    }
  });
});

it('on a terminal, a progress bar per kernel, then the summary', () => {
  // script(1) runs the command on a pseudo-terminal, so stderr is a TTY.
  const two = kernelArchives().slice(0, 2);
  const [cmd, argv] = cliArgs([
    'min-core-btf',
    '-q',
    '--jobs',
    '1',
    '--kernels',
    ...two,
    '--out-dir',
    join(tmp, 'tty'),
    OBJECT,
  ]);
  const line = [cmd, ...argv].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', line, '/dev/null'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const [first, second] = two.map(releaseOf);
  expect(r.stdout).toContain(`\r\x1b[K[${'#'.repeat(15)}${'.'.repeat(15)}] 1/2 ${first}`);
  expect(r.stdout).toContain(`\r\x1b[K[${'#'.repeat(30)}] 2/2 ${second}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the bar redraws with CR and an ANSI erase
  expect(r.stdout).toMatch(/\r\x1b\[Kmin-core-btf: 2 kernels \(2 minimized, 0 already done, 0 failed/);
});

describe('min-core-btf --kernels: an interrupted run', () => {
  // Twelve kernels (three archives linked under four distro names), one worker: long enough
  // to be interrupted well before the end once the first is done, short to redo.
  const TOTAL = 12;
  const tree = join(tmp, 'interrupt-tree');
  kernelArchives()
    .slice(0, 3)
    .forEach((a) => {
      for (const copy of ['a', 'b', 'c', 'd']) {
        const dest = join(tree, `${copy}debian`, '12', 'x86_64', basename(a));
        mkdirSync(join(dest, '..'), { recursive: true });
        if (!existsSync(dest)) linkSync(a, dest);
      }
    });
  const isTree = (f: string) => /^[abcd]debian\//.test(f);
  const batchArgs = (outDir: string) => ['-q', '--jobs', '1', '--kernels', tree, '--out-dir', outDir, OBJECT];
  /** Starts a one-worker batch and sends `sig` once the first kernel is done. */
  async function interrupt(
    outDir: string,
    sig: NodeJS.Signals,
  ): Promise<{ code: number | null; stderr: string }> {
    const [cmd, argv] = cliArgs(['min-core-btf', ...batchArgs(outDir)]);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const deadline = Date.now() + 30_000;
    while (!files(join(outDir, '.stamps')).length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    child.kill(sig);
    return { code: await exited, stderr };
  }

  /** Every output present is whole (equal to bpftool's), and no temp file is left. */
  function consistent(outDir: string): number {
    const all = files(outDir);
    expect(all.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const trees = all.filter(isTree);
    for (const t of trees) expect(readFileSync(join(outDir, t)), t).toEqual(expectedMin(basename(t, '.btf')));
    return trees.length;
  }

  it('SIGINT: stops cleanly, publishes nothing, then resumes', async () => {
    const outDir = join(tmp, 'int');
    const r = await interrupt(outDir, 'SIGINT');
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(
      new RegExp(`interrupted \\(SIGINT\\): \\d+ of ${TOTAL} kernels done .*run again to resume`),
    );
    // An interrupted batch publishes no tree and no manifest; the stamps say what is done.
    expect(consistent(outDir)).toBe(0);
    expect(existsSync(join(outDir, 'manifest.json'))).toBe(false);
    const done = files(join(outDir, '.stamps')).length;
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThan(TOTAL);
    const again = cli(batchArgs(outDir));
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`(${TOTAL - done} minimized, ${done} already done`);
    expect(consistent(outDir)).toBe(TOTAL);
  });

  it('redoing a kernel whose output is already linked in place leaves no temp name behind', () => {
    // rename(2) between two links of one inode is a no-op: the case a kill between an
    // output's link and its stamp leads to.
    const dir = join(tmp, 'relink');
    mkdirSync(dir);
    const store = join(dir, 'store.btf');
    writeFileSync(store, 'x');
    linkAtomic(store, join(dir, 'tree.btf'), new Uint8Array());
    linkAtomic(store, join(dir, 'tree.btf'), new Uint8Array());
    expect(files(dir)).toEqual(['store.btf', 'tree.btf']);
    expect(statSync(join(dir, 'tree.btf')).ino).toBe(statSync(store).ino);
  });

  it('SIGKILL: no half-written output; the next run sweeps stale temp files and completes', async () => {
    const outDir = join(tmp, 'kill');
    const r = await interrupt(outDir, 'SIGKILL');
    expect(r.code).toBe(null);
    // What a kill inside a write leaves: a temp file of a dead process (pid 2^22+1 cannot exist).
    const stale = join(outDir, 'adebian/12/x86_64', '.5.10.0-32-amd64.btf.4194305.0badf00d.tmp');
    mkdirSync(join(stale, '..'), { recursive: true });
    writeFileSync(stale, 'half');
    const trees = files(outDir).filter((f) => isTree(f) && !f.endsWith('.tmp'));
    for (const t of trees) expect(readFileSync(join(outDir, t)), t).toEqual(expectedMin(basename(t, '.btf')));
    const again = cli(batchArgs(outDir));
    expect(again.status).toBe(0);
    expect(consistent(outDir)).toBe(TOTAL);
  });
});
