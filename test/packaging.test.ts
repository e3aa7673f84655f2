import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTarball, namedFiles, packAll } from '../scripts/pack.ts';
import { buildPackages } from './fixtures/packages.ts';
import { filesUnder } from './plugin-harness.ts';

// The three packages as a user gets them: built, packed with `pnpm pack`, installed with plain
// `npm install` into an app in a temp folder outside the repo, next to vite, rollup, esbuild and
// typescript from the registry (the versions this workspace uses). No workspace links, no
// @btfkit/source condition: what the tarballs hold is all there is. The app is built by each
// bundler's own CLI or API, run with Node, type-checked with tsc --strict, and the installed
// `btfkit` bin is run; every BTF must equal bpftool 7.1.0's min_core_btf output (expected/min).
// A second part builds two apps of one pnpm workspace in parallel against a shared cache.

const ROOT = join(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus');
const FIXTURE = join(ROOT, 'test/fixtures/packaging');
const OBJECTS = ['execsnoop', 'opensnoop', 'statsnoop'];
const KERNELS = [
  'debian/12/x86_64/6.1.0-47-cloud-amd64.btf.tar.xz',
  'debian/11/x86_64/5.10.0-32-cloud-amd64.btf.tar.xz',
];
const releaseOf = (k: string) => k.replace(/^.*\//, '').replace('.btf.tar.xz', '');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const expectedMin = (release: string, obj: string) =>
  readFileSync(join(CORPUS, 'expected/min', release, `${obj}.btf`));

/** The version of a tool this workspace uses, so the app gets the same one from the registry. */
function workspaceVersion(name: string): string {
  const req = createRequire(join(ROOT, 'packages/unplugin/package.json'));
  const rootReq = createRequire(join(ROOT, 'package.json'));
  for (const r of [req, rootReq]) {
    try {
      return JSON.parse(readFileSync(r.resolve(`${name}/package.json`), 'utf8')).version;
    } catch {}
  }
  throw new Error(`${name} is not installed in the workspace`);
}

/** The environment of a user's shell: nothing from the pnpm/vitest process that runs this test. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      /^(npm_|pnpm_|VITEST|NODE_OPTIONS$|NODE_PATH$|TSX_)/i.test(k) &&
      !/^npm_config_(registry|cache)$/i.test(k)
    )
      continue;
    env[k] = v;
  }
  return env;
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, {
    cwd,
    env: userEnv(),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 600_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mustRun(cmd: string, args: string[], cwd: string): string {
  const r = run(cmd, args, cwd);
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** Every text file under `dir` that names `path`. */
function filesNaming(dir: string, path: string): string[] {
  return filesUnder(dir).filter((f) => readFileSync(join(dir, f)).includes(path));
}

let work: string;
let tarballs: string[];
beforeAll(() => {
  buildPackages();
  work = mkdtempSync(join(tmpdir(), 'btfkit-packaging-'));
  tarballs = packAll(join(work, 'packed'), false);
}, 600_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarballs', { timeout: 300_000 }, () => {
  it('are three, each holding every file its package.json names, a README and no workspace: range', () => {
    expect(tarballs.map((t) => t.replace(/^.*\//, ''))).toEqual([
      'btfkit-core-0.1.0.tgz',
      'btfkit-runtime-0.1.0.tgz',
      'unplugin-btfkit-0.1.0.tgz',
    ]);
    for (const t of tarballs) expect(checkTarball(t), t).toEqual([]);
    const unplugin = JSON.parse(
      execFileSync('tar', ['-xzOf', tarballs[2] as string, 'package/package.json'], { encoding: 'utf8' }),
    );
    expect(namedFiles(unplugin)).toContain('dist/vite.js');
    expect(unplugin.dependencies['@btfkit/core']).toBe('^0.1.0');
  });

  it('a tarball missing a file its exports name is refused', () => {
    const dir = join(work, 'tampered');
    mkdirSync(dir);
    execFileSync('tar', ['-xzf', tarballs[2] as string, '-C', dir]);
    rmSync(join(dir, 'package/dist/vite.js'));
    const tgz = join(work, 'tampered.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', dir, 'package']);
    expect(checkTarball(tgz)).toEqual([
      `${tgz}: package.json names dist/vite.js, which the tarball does not hold`,
    ]);
  });
});

// Each step runs real tools (npm, bundlers, tsc) on a machine other tests also load.
describe('an app outside the repo, installed with npm', { timeout: 300_000 }, () => {
  let app: string;
  beforeAll(() => {
    app = join(work, 'app');
    cpSync(FIXTURE, app, { recursive: true });
    for (const o of OBJECTS)
      copyFileSync(join(CORPUS, 'objects', `${o}.bpf.o`), join(app, 'src', `${o}.bpf.o`));
    for (const k of KERNELS) {
      mkdirSync(join(app, 'kernels', k, '..'), { recursive: true });
      copyFileSync(join(CORPUS, 'kernels', k), join(app, 'kernels', k));
    }
    const deps: Record<string, string> = {};
    for (const t of tarballs) {
      const name = JSON.parse(
        execFileSync('tar', ['-xzOf', t, 'package/package.json'], { encoding: 'utf8' }),
      ).name;
      deps[name] = `file:${t}`;
    }
    for (const tool of ['vite', 'rollup', 'esbuild', 'typescript', '@types/node'])
      deps[tool] = workspaceVersion(tool);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify(
        { name: 'btfkit-outside-app', private: true, type: 'module', dependencies: deps },
        null,
        2,
      ),
    );
    // One install of everything; --prefer-offline reuses npm's cache where it has the packages.
    mustRun('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], app);
  }, 600_000);

  it('is outside the repo and gets real copies of the packages, not links into the workspace', () => {
    expect(realpathSync(app).startsWith(realpathSync(ROOT))).toBe(false);
    for (const name of ['@btfkit/core', '@btfkit/runtime', 'unplugin-btfkit']) {
      const dir = join(app, 'node_modules', name);
      expect(lstatSync(dir).isSymbolicLink(), name).toBe(false);
      expect(readFileSync(join(dir, 'package.json'), 'utf8')).not.toMatch(/workspace:|@btfkit\/source/);
    }
  });

  const builds = {
    vite: ['npx', ['vite', 'build']],
    rollup: ['npx', ['rollup', '-c', 'rollup.config.mjs']],
    esbuild: ['node', ['esbuild.mjs']],
  } as const;
  for (const [bundler, [cmd, args]] of Object.entries(builds)) {
    it(`builds with ${bundler} and the built app serves bpftool's BTF for every object and kernel`, () => {
      mustRun(cmd, [...args], app);
      const out = join(app, `dist-${bundler}`);
      const printed = JSON.parse(mustRun('node', [join(out, 'main.js')], app).trim());
      expect(printed.runtime).toBe('function');
      for (const o of OBJECTS) {
        expect(printed[o].object, o).toBe(sha(readFileSync(join(CORPUS, 'objects', `${o}.bpf.o`))));
        for (const k of KERNELS) {
          expect(printed[o].btf[releaseOf(k)], `${o} ${releaseOf(k)}`).toBe(
            sha(expectedMin(releaseOf(k), o)),
          );
        }
      }
      // One file per distinct BTF across the three objects (opensnoop and statsnoop share theirs).
      const distinct = new Set(OBJECTS.flatMap((o) => KERNELS.map((k) => sha(expectedMin(releaseOf(k), o)))));
      const btfs = filesUnder(out).filter((f) => f.endsWith('.btf'));
      expect(new Set(btfs.map((f) => sha(readFileSync(join(out, f)))))).toEqual(distinct);
      expect(btfs).toHaveLength(distinct.size);
      // Nothing in the output (code, source maps) names where it was built.
      expect(filesNaming(out, work)).toEqual([]);
      expect(filesNaming(out, ROOT)).toEqual([]);
    });
  }

  it('type-checks with tsc --strict: the generated declarations (dts: true) and the client types', () => {
    // The Vite build above ran with dts: true.
    for (const o of OBJECTS) expect(statSync(join(app, 'src', `${o}.bpf.d.o.ts`)).size).toBeGreaterThan(0);
    const r = run('npx', ['tsc', '-p', 'tsconfig.json'], app);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
    // The check is not vacuous: a wrong type is an error.
    writeFileSync(
      join(app, 'src/wrong.ts'),
      "import p from './execsnoop.bpf.o';\nexport const n: number = p.name;\n",
    );
    const bad = run('npx', ['tsc', '-p', 'tsconfig.json'], app);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(
      /src\/wrong\.ts\(2,14\): error TS2322: Type '[^']+' is not assignable to type 'number'/,
    );
    rmSync(join(app, 'src/wrong.ts'));
  });

  it('runs the installed btfkit bin: --help, and min-core-btf writing bpftool min_core_btf bytes', () => {
    const help = mustRun('npx', ['btfkit', '--help'], app);
    for (const c of ['dump', 'min-core-btf', 'relocate', 'compat']) expect(help).toContain(c);
    const out = join(work, 'min.btf');
    mustRun(
      'npx',
      ['btfkit', 'min-core-btf', join('kernels', KERNELS[0] as string), out, 'src/execsnoop.bpf.o'],
      app,
    );
    expect(sha(readFileSync(out))).toBe(sha(expectedMin(releaseOf(KERNELS[0] as string), 'execsnoop')));
  });
});

describe('a pnpm workspace: two apps built in parallel against one shared cache', {
  timeout: 300_000,
}, () => {
  let ws: string;
  const apps = ['apps/a', 'apps/b'];
  const cache = () => join(ws, 'node_modules/.cache/btfkit');
  const kernels = [...KERNELS, 'debian/12/x86_64/6.1.0-47-amd64.btf.tar.xz'];

  beforeAll(() => {
    ws = join(work, 'workspace');
    const shared = join(ws, 'shared');
    mkdirSync(shared, { recursive: true });
    copyFileSync(join(CORPUS, 'objects/execsnoop.bpf.o'), join(shared, 'execsnoop.bpf.o'));
    for (const k of kernels) {
      mkdirSync(join(shared, 'kernels', k, '..'), { recursive: true });
      copyFileSync(join(CORPUS, 'kernels', k), join(shared, 'kernels', k));
    }
    const tgz = (name: string) => `file:${tarballs.find((t) => t.includes(name))}`;
    writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'btfkit-monorepo-app', private: true }));
    writeFileSync(
      join(ws, 'pnpm-workspace.yaml'),
      [
        'packages:',
        '  - apps/*',
        // unplugin-btfkit's own dependencies, from the tarballs rather than the registry.
        'overrides:',
        `  '@btfkit/core': '${tgz('btfkit-core-')}'`,
        `  '@btfkit/runtime': '${tgz('btfkit-runtime-')}'`,
        // pnpm refuses to install while a dependency's build script is neither allowed nor denied.
        'allowBuilds:',
        '  koffi: true',
        '  esbuild: false',
        '',
      ].join('\n'),
    );
    for (const a of apps) {
      const dir = join(ws, a);
      mkdirSync(join(dir, 'src'), { recursive: true });
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({
          name: a.replace('apps/', 'app-'),
          private: true,
          type: 'module',
          devDependencies: { 'unplugin-btfkit': tgz('unplugin-btfkit-'), vite: workspaceVersion('vite') },
        }),
      );
      writeFileSync(
        join(dir, 'vite.config.mjs'),
        [
          "import btfkit from 'unplugin-btfkit/vite';",
          'export default {',
          "  logLevel: 'warn',",
          // Relative to each app's root: the workspace's shared kernels and cache.
          "  plugins: [btfkit({ kernels: ['../../shared/kernels'], cacheDir: '../../node_modules/.cache/btfkit' })],",
          "  build: { ssr: 'src/main.js', outDir: 'dist', ssrEmitAssets: true, sourcemap: true },",
          '};',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(dir, 'src/main.js'),
        [
          "import { createHash } from 'node:crypto';",
          "import probe from '../../../shared/execsnoop.bpf.o';",
          'const out = {};',
          'for (const k of probe.kernels)',
          "  out[k.release] = createHash('sha256').update((await probe.btfFor(k)).bytes).digest('hex');",
          'console.log(JSON.stringify(out));',
          '',
        ].join('\n'),
      );
    }
    mustRun('pnpm', ['install', '--prefer-offline', '--config.confirmModulesPurge=false'], ws);
  }, 600_000);

  /** Runs `vite build` in both apps at once, as Turborepo or Nx would; resolves with their exit codes. */
  const buildBoth = () =>
    Promise.all(
      apps.map(
        (a) =>
          new Promise<{ code: number | null; stderr: string }>((resolve) => {
            const p = spawn('pnpm', ['exec', 'vite', 'build'], { cwd: join(ws, a), env: userEnv() });
            let stderr = '';
            p.stderr.on('data', (d) => {
              stderr += d;
            });
            p.on('close', (code) => resolve({ code, stderr }));
          }),
      ),
    );

  const snapshot = () =>
    readdirSync(cache())
      .sort()
      .map((f) => {
        const st = statSync(join(cache(), f));
        return `${f} ${st.ino} ${st.mtimeMs}`;
      });

  it('both succeed with identical outputs, intact cache entries, and no absolute paths', async () => {
    const results = await buildBoth();
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const [a, b] = apps.map((x) => join(ws, x, 'dist')) as [string, string];
    expect(filesUnder(b)).toEqual(filesUnder(a));
    for (const f of filesUnder(a))
      expect(sha(readFileSync(join(b, f))), f).toBe(sha(readFileSync(join(a, f))));
    const want = new Set(kernels.map((k) => sha(expectedMin(releaseOf(k), 'execsnoop'))));
    for (const dir of [a, b]) {
      const printed = JSON.parse(mustRun('node', [join(dir, 'main.js')], ws).trim());
      for (const k of kernels)
        expect(printed[releaseOf(k)]).toBe(sha(expectedMin(releaseOf(k), 'execsnoop')));
      expect(filesNaming(dir, ws)).toEqual([]);
      expect(filesNaming(dir, ROOT)).toEqual([]);
    }
    // Every cache entry is whole: minimized BTF equal to bpftool's; no temp file left behind.
    const entries = readdirSync(cache());
    expect(entries.filter((f) => f.includes('.tmp'))).toEqual([]);
    const btfs = entries.filter((f) => f.endsWith('.btf'));
    expect(btfs).toHaveLength(kernels.length);
    for (const f of btfs) expect(want.has(sha(readFileSync(join(cache(), f)))), f).toBe(true);
  });

  it('a later build of either app is served from the cache: no entry is written again', async () => {
    const before = snapshot();
    const results = await buildBoth();
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(snapshot()).toEqual(before);
  });
});
