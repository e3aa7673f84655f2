// Runs the CLI bundle (main.cjs, built by scripts/cli-bundle.mjs) with a V8 code cache.
//
// A btfkit command is a short process: on a 100k-type kernel, parsing and compiling the
// functions it calls costs about as much as a tenth of the whole run. Node 20 has no
// compile cache for ES modules, so the bundle is a classic script run through vm.Script,
// whose `cachedData` is V8's bytecode for every function the previous run of the same
// command compiled. One cache file per command (dump, min-core-btf, ...), beside the bundle,
// written after the command finishes when there was none or V8 refused it (another Node,
// other flags, a rebuilt bundle): atomically (temp file, rename), and never an error when
// the directory is read-only: without the cache the CLI is only slower.
const { readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { Script } = require('node:vm');

/**
 * The cache a run of `argv` uses: its command's name, when it looks like one, and apart for
 * runs over `--kernels` (a batch runs other functions than one kernel does: with one cache
 * for both, whichever wrote it first left the other compiling lazily, or deserializing a
 * third more than it runs).
 */
function cacheFile(dir, argv) {
  const command = /^[a-z][a-z0-9-]{0,31}$/.test(argv[0] ?? '') ? argv[0] : 'default';
  const mode = argv.includes('--kernels') ? '.kernels' : '';
  return join(dir, `main.${command}${mode}.v8cache`);
}

function readCache(file) {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeCache(file, script) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/**
 * The bundle's `require`: Node's modules from process.getBuiltinModule (Node >= 20.16), and a
 * real require beside the bundle (the xz addon) made on first use: createRequire loads
 * Node's ES module loader, ~0.7 ms that most commands never need.
 */
function bundleRequire(file) {
  let beside;
  return (id) => {
    const builtin = process.getBuiltinModule(id);
    if (builtin !== undefined) return builtin;
    beside ??= require('node:module').createRequire(file);
    return beside(id);
  };
}

/** Runs `main(argv)` of `dir`/main.cjs; resolves to the exit code. */
async function runBundle(dir, argv) {
  const file = join(dir, 'main.cjs');
  const cache = cacheFile(dir, argv);
  const cachedData = readCache(cache);
  // ASCII by construction (cli-bundle.mjs checks): latin1 makes a one-byte string without
  // UTF-8 decoding, ~2 ms less for the 400 KB bundle. The file is one function expression
  // (cli-bundle.mjs writes it so), compiled as it is.
  const script = new Script(readFileSync(file, 'latin1'), { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, bundleRequire(file), module, file, dir, pathToFileURL(file).href);
  try {
    return await module.exports.main(argv);
  } finally {
    if (cachedData === undefined || script.cachedDataRejected) writeCache(cache, script);
  }
}

/**
 * `runBundle` as a process's whole job, after `before` (a rebuild, say): its result becomes
 * the exit code; an exception that is not a BtfkitError (those become messages and exit codes
 * inside main) is a bug, reported as one with exit code 70 (EX_SOFTWARE).
 */
function runBundleAsMain(dir, argv, before) {
  Promise.resolve(before)
    .then(() => runBundle(dir, argv))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (e) => {
        process.stderr.write(
          `btfkit: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
        );
        process.exitCode = 70;
      },
    );
}

module.exports = { runBundle, runBundleAsMain };
