#!/usr/bin/env node
// tsetcdctl: etcdctl 3.4's commands on tsetcd/client. Runs the compiled code in dist/ (built by `npm install`).
import('../dist/src/cli/tsetcdctl/main.js').then((m) => m.main(process.argv.slice(2)));
