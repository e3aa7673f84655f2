#!/usr/bin/env node
/**
 * `pnpm btfkit ...`: runs the CLI from an esbuild bundle of packages/core/src (main.cjs plus
 * the batch's worker.js beside it), rebuilt here whenever a source file is newer than the
 * bundle. Running the TypeScript sources through tsx costs ~1 s of loader and transpiling on
 * every call; a bundle is one file V8 parses lazily, with a code cache per command
 * (packages/core/bin/run-bundle.cjs), and only the command asked for runs its module bodies
 * (commands/index.ts loads them on demand). The freshness check is a stat of each source
 * file (about 80, ~1 ms), so nobody ever runs a build step by hand.
 *
 * BTFKIT_CLI_CACHE moves the bundle directory (tests build into a temp dir). Plain
 * CommonJS on purpose: it must run before any TypeScript loader exists, and Node 20 starts
 * a CommonJS entry ~15 ms sooner than an ES module one (no ESM loader to set up), which is
 * a tenth of a whole `btfkit dump`.
 */
const { existsSync, mkdirSync, readdirSync, statSync, symlinkSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const ROOT = join(__dirname, '..');
const CORE = join(ROOT, 'packages/core');
const SRC = join(CORE, 'src');
// Inside @btfkit/core's node_modules so that the bundle's bare imports (the xz addon, kept
// out of the bundle because it is native) resolve to core's own dependencies.
const OUT = process.env.BTFKIT_CLI_CACHE || join(CORE, 'node_modules/.cache/btfkit-cli');
const MAIN = join(OUT, 'main.cjs');

/** Newest modification time (ms) of the inputs: every non-test source, core's package.json, the scripts. */
function newestInput() {
  let newest = Math.max(
    statSync(join(CORE, 'package.json')).mtimeMs,
    statSync(__filename).mtimeMs,
    statSync(join(__dirname, 'cli-bundle.mjs')).mtimeMs,
  );
  // A walk of its own: readdirSync's `recursive` option costs ~1 ms more on Node 20.
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (e.isFile() && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(SRC);
  return newest;
}

function bundleTime() {
  try {
    return statSync(MAIN).mtimeMs;
  } catch {
    return -1;
  }
}

/** Rebuilds into OUT (scripts/cli-bundle.mjs, imported only then), stamped with the start time. */
async function rebuild() {
  const started = Date.now() / 1000;
  const { buildCliBundle } = await import(pathToFileURL(join(__dirname, 'cli-bundle.mjs')).href);
  mkdirSync(OUT, { recursive: true });
  // Elsewhere than the default place, a link gives the bundle core's dependencies.
  const modules = join(OUT, 'node_modules');
  if (!OUT.startsWith(join(CORE, 'node_modules')) && !existsSync(modules)) {
    symlinkSync(join(CORE, 'node_modules'), modules);
  }
  await buildCliBundle(OUT, started);
}

const { runBundleAsMain } = require('../packages/core/bin/run-bundle.cjs');

runBundleAsMain(OUT, process.argv.slice(2), bundleTime() < newestInput() ? rebuild() : undefined);
