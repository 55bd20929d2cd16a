// Runs the compiled tests (dist/) with node's test runner. Default: every *.test.js. With --faults:
// the long fault and soak runs (*.faults.test.js) instead. Test files are hermetic, so they run in
// parallel, two at a time on this 2-core machine.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const faults = process.argv.includes('--faults');
const filter = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const root = new URL('../dist/', import.meta.url).pathname;
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'proto') walk(p);
    } else if (name.endsWith('.test.js')) {
      const isFault = name.endsWith('.faults.test.js');
      if (isFault === faults && (filter.length === 0 || filter.some((f) => p.includes(f)))) files.push(p);
    }
  }
}
for (const top of ['src', 'test', 'kubetester']) if (existsSync(join(root, top))) walk(join(root, top));
files.sort();
if (files.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}
console.log(`running ${files.length} test files:\n  ${files.map((f) => relative(root, f)).join('\n  ')}`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, TSETCD_ROOT: new URL('..', import.meta.url).pathname },
});
process.exit(r.status ?? 1);
