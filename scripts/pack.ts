/**
 * `pnpm pack:all [OUT_DIR]`: builds every package (`pnpm build`), packs each with `pnpm pack`
 * (which turns `workspace:` ranges into versions and applies `publishConfig`), and checks each
 * tarball as a registry would serve it: every file its `exports`, `bin`, `types`/`main` name is
 * inside, a README is inside, and no `workspace:` range is left. Prints the tarball paths; exits
 * non-zero naming every problem. `--no-build` packs what dist/ holds now.
 *
 * The packaging test (test/packaging.test.ts) uses `packAll` and `checkTarball` from here.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
/** Packed in dependency order; the directory under packages/ of each. */
export const PACKAGES = ['core', 'runtime', 'unplugin'] as const;

/** Paths a tarball must hold (relative to the package root, `./` stripped), from its package.json. */
export function namedFiles(pkg: Record<string, unknown>): string[] {
  const out = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string') out.add(v.replace(/^\.\//, ''));
    else if (Array.isArray(v)) v.forEach(add);
    else if (v && typeof v === 'object') Object.values(v).forEach(add);
  };
  // exports: every condition's target, at any depth; bin: a path or a map of them.
  add(pkg.exports);
  add(pkg.bin);
  for (const field of ['types', 'typings', 'main', 'module']) add(pkg[field]);
  return [...out].sort();
}

/** What is wrong with a packed tarball (empty when nothing is). */
export function checkTarball(tgz: string): string[] {
  const entries = new Set(
    execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.startsWith('package/') && !l.endsWith('/'))
      .map((l) => l.slice('package/'.length)),
  );
  const text = execFileSync('tar', ['-xzOf', tgz, 'package/package.json'], { encoding: 'utf8' });
  const pkg = JSON.parse(text) as Record<string, unknown>;
  const problems: string[] = [];
  for (const f of namedFiles(pkg)) {
    if (!entries.has(f)) problems.push(`${tgz}: package.json names ${f}, which the tarball does not hold`);
  }
  if (![...entries].some((e) => /^readme(\.md)?$/i.test(e))) problems.push(`${tgz}: no README`);
  if (text.includes('workspace:')) problems.push(`${tgz}: package.json still has a workspace: range`);
  // Unit tests sit beside their modules in src/ (docs/internals.md); none may reach a user.
  for (const e of entries) {
    if (/\.test\.(?:[cm]?[jt]s|d\.[cm]?ts)$/.test(e)) problems.push(`${tgz}: ships the test file ${e}`);
  }
  if (text.includes('@btfkit/source'))
    problems.push(`${tgz}: package.json names the @btfkit/source condition`);
  return problems;
}

/** Builds (unless `build` is false) and packs every package into outDir; returns the tarball paths. */
export function packAll(outDir: string, build = true): string[] {
  if (build) execFileSync('pnpm', ['--silent', 'build'], { cwd: ROOT, stdio: 'pipe' });
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const p of PACKAGES) {
    execFileSync('pnpm', ['pack', '--pack-destination', outDir], {
      cwd: join(ROOT, 'packages', p),
      stdio: 'pipe',
    });
  }
  return readdirSync(outDir)
    .filter((f) => f.endsWith('.tgz'))
    .sort()
    .map((f) => join(outDir, f));
}

if (process.argv[1] === import.meta.filename) {
  const args = process.argv.slice(2);
  const outDir = resolve(args.find((a) => !a.startsWith('--')) ?? join(ROOT, 'packed'));
  const tarballs = packAll(outDir, !args.includes('--no-build'));
  const problems = tarballs.flatMap(checkTarball);
  for (const t of tarballs) console.log(t);
  for (const p of problems) console.error(p);
  process.exit(problems.length > 0 ? 1 : 0);
}
