// Builds the dashboard's page (src/dashboard/ui: preact + uPlot, TSX) into
// dist/src/dashboard/assets/{index.html,app.js,app.css}: type-checks it with its own tsconfig (DOM
// types, kept out of the server build), then bundles it with esbuild. No network access at run time:
// every library is inside app.js. Run by `npm run build` after tsc.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const ui = join(root, 'src/dashboard/ui');
const out = join(root, 'dist/src/dashboard/assets');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // An installed package (without devDependencies) ships the built page; nothing to do.
  if (existsSync(join(out, 'app.js'))) process.exit(0);
  console.error('build-dashboard: esbuild is missing (npm install) and no built page exists');
  process.exit(1);
}
const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(ui, 'tsconfig.json')],
  {
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: join(ui, 'main.tsx') },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  logLevel: 'warning',
});
copyFileSync(join(ui, 'index.html'), join(out, 'index.html'));
