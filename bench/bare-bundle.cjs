// The CLI bundle run directly, without scripts/btfkit.cjs's freshness check: the bench rows
// "bare bundle" (what the installed bin, packages/core/bin/btfkit.cjs, does with dist/bundle).
const { join } = require('node:path');
const { runBundle } = require('../packages/core/bin/run-bundle.cjs');

const dir =
  process.env.BTFKIT_CLI_CACHE || join(__dirname, '../packages/core/node_modules/.cache/btfkit-cli');
runBundle(dir, process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
