/** Entry point of the hellohttp container: `node dist/hellohttp/main.js [flags]`. */
import { runHelloHttp } from './hellohttp.js';

await runHelloHttp(process.argv.slice(2));
