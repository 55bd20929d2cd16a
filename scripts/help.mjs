// `--help` for the scripts in this folder (each script's leading comment is its help text); the one
// implementation is src/pkg/script-help.ts, built to dist/ (`npm run build` first, as every bench
// script needs).
export { helpFromHeader } from '../dist/src/pkg/script-help.js';
