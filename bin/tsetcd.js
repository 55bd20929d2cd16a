#!/usr/bin/env node
// The tsetcd server (and `tsetcd bench`). Runs the compiled code in dist/ (built by `npm install`).
import('../dist/src/cli/tsetcd.js').then((m) => m.main(process.argv.slice(2)));
