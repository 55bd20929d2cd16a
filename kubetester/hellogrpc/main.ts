/** Entry point of the hellogrpc container: `node dist/hellogrpc/main.js [flags]`. */
import { runHelloGrpc } from './hellogrpc.js';

await runHelloGrpc(process.argv.slice(2));
