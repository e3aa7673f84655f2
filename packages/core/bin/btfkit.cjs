#!/usr/bin/env node
// Installed entry point: runs the CLI's bundle (dist/bundle, made by `pnpm build` with
// scripts/cli-bundle.mjs): one file to parse, no module graph to resolve at start-up, and a
// V8 code cache per command beside it (run-bundle.cjs). CommonJS: Node 20 starts it ~15 ms
// sooner than an ES module entry.
const { join } = require('node:path');
const { runBundleAsMain } = require('./run-bundle.cjs');

runBundleAsMain(join(__dirname, '../dist/bundle'), process.argv.slice(2));
