#!/usr/bin/env node
'use strict';
// Thin entry: the compiled CLI lives in dist/ (built once by `npm ci` via the prepare script).
let cli;
try {
  cli = require('../dist/src/cli.js');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && /dist[\\/]src[\\/]cli/.test(e.message)) {
    console.error('bnrun: not built yet; run `npm run build` (npm ci does it for you)');
    process.exit(1);
  }
  throw e;
}
cli.main(process.argv).then((code) => {
  process.exitCode = code;
});
