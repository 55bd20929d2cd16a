/** Entry point of the helloserve container: `node dist/helloserve/main.js [flags]`. */
import { runHelloServe } from './helloserve.js';

await runHelloServe(process.argv.slice(2));
