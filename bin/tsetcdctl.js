#!/usr/bin/env node
// The tsetcdctl command-line client. Runs the compiled code in dist/ (built by `npm install`).
import('../dist/src/cli/tsetcdctl.js').then((m) => m.main(process.argv.slice(2)));
