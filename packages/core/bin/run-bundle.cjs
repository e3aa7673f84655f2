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
//
// V8 checks a cache against its script by the source's length only, so a rebuilt bundle of
// the same length would run the old bundle's bytecode. A cache is therefore named after the
// bundle file it was made from (inode, size, modification time, from the descriptor the
// source was read through): a bundle written anew (renamed into place or rewritten) never
// meets another bundle's cache.
const {
  closeSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { Script } = require('node:vm');

/**
 * The command part of a cache's name for `argv`: its command's name, when it looks like one,
 * and apart for runs over `--kernels` (a batch runs other functions than one kernel does:
 * with one cache for both, whichever wrote it first left the other compiling lazily, or
 * deserializing a third more than it runs).
 */
function commandOf(argv) {
  const command = /^[a-z][a-z0-9-]{0,31}$/.test(argv[0] ?? '') ? argv[0] : 'default';
  return argv.includes('--kernels') ? `${command}.kernels` : command;
}

/** The cache of `command` for the bundle whose stat is `st`. */
function cacheFile(dir, command, st) {
  return join(dir, `main.${command}.${st.ino}-${st.size}-${Math.trunc(st.mtimeMs)}.v8cache`);
}

/** Reads the bundle and stats it through one descriptor, so the name matches the bytes. */
function readBundle(file) {
  const fd = openSync(file, 'r');
  try {
    // ASCII by construction (cli-bundle.mjs checks): latin1 makes a one-byte string without
    // UTF-8 decoding, ~2 ms less for the 400 KB bundle.
    return { source: readFileSync(fd, 'latin1'), stat: fstatSync(fd) };
  } finally {
    closeSync(fd);
  }
}

function readCache(file) {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Writes `file` atomically and drops the command's caches of other bundles. */
function writeCache(dir, command, file, script) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, file);
    // This command's caches only (`min-core-btf` is not `min-core-btf.kernels`).
    const ours = new RegExp(`^main\\.${command.replace('.', '\\.')}\\.\\d+-\\d+-\\d+\\.v8cache$`);
    for (const name of readdirSync(dir)) {
      if (ours.test(name) && join(dir, name) !== file) {
        rmSync(join(dir, name), { force: true });
      }
    }
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
  const { source, stat } = readBundle(file);
  const command = commandOf(argv);
  const cache = cacheFile(dir, command, stat);
  const cachedData = readCache(cache);
  // The file is one function expression (cli-bundle.mjs writes it so), compiled as it is.
  const script = new Script(source, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, bundleRequire(file), module, file, dir, pathToFileURL(file).href);
  try {
    return await module.exports.main(argv);
  } finally {
    if (cachedData === undefined || script.cachedDataRejected) writeCache(dir, command, cache, script);
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
