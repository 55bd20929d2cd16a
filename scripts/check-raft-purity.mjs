// Keeps src/raft pure: no node: imports, no clocks, timers or global randomness, no imports from
// other layers of ours (only src/pkg). Biome bans the globals; this catches imports and Math.random.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../src/raft/', import.meta.url).pathname;
const bad = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) check(p);
  }
}
function check(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    if (/from\s+['"]node:/.test(line) || /require\(['"]node:/.test(line)) bad.push(`${where}: node: import`);
    if (/Math\.random|Date\.now|new Date\(|performance\.now|hrtime/.test(line))
      bad.push(`${where}: clock or randomness`);
    const m = line.match(/from\s+['"](\.\.\/[^'"]+)['"]/);
    if (m && !m[1].startsWith('../pkg/')) bad.push(`${where}: import outside raft/ and pkg/: ${m[1]}`);
  });
}
walk(root);
if (bad.length) {
  console.error(`src/raft must stay pure:\n${bad.join('\n')}`);
  process.exit(1);
}
