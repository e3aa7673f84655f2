#!/usr/bin/env node
// Installed entry point: runs the CLI's bundle (dist/bundle, made by `pnpm build` with
// scripts/cli-bundle.mjs): one file to parse, no module graph to resolve at start-up, and a
// V8 code cache per command beside it (run-bundle.cjs). CommonJS: Node 20 starts it ~15 ms
// sooner than an ES module entry.
const { join } = require('node:path');
const { runBundle } = require('./run-bundle.cjs');

runBundle(join(__dirname, '../dist/bundle'), process.argv.slice(2)).then(
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
