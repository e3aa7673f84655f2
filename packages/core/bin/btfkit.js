#!/usr/bin/env node
// Installed entry point: runs the CLI's esbuild bundle (dist/bundle, made by `pnpm build`
// with scripts/cli-bundle.mjs): one file to parse, no module graph to resolve at start-up.
import { main } from '../dist/bundle/main.js';

process.exitCode = await main(process.argv.slice(2));
