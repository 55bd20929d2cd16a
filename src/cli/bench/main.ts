/** Stand-alone entry for development: `node dist/src/cli/bench/main.js put --total 1000`. */
import { runBench } from './index.js';

process.exitCode = await runBench(process.argv.slice(2));
