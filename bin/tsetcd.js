#!/usr/bin/env node
// The tsetcd server (and `tsetcd bench`). Runs the compiled code in dist/ (built by `npm install`).
// `tsetcd snapshot restore|status` skips the server's modules (grpc-js, the member: 0.2 s of CPU to
// load); `--help` goes through main, which prints every subcommand's usage.
const argv = process.argv.slice(2);
if (argv[0] === 'snapshot' && !argv.some((a) => a === '--help' || a === '-h')) {
  import('../dist/src/cli/snapshot.js').then(async (m) => {
    process.exitCode = await m.runSnapshotCommand(argv.slice(1));
  });
} else import('../dist/src/cli/tsetcd.js').then((m) => m.main(argv));
