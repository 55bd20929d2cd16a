// Keeps the layers of src/ in their order. Each folder's README.md has a line
//
//   May import: pkg, wire, proto, server (index.ts only)
//
// naming the other src folders its code may import ("nothing" for none; "(index.ts only)" after a
// name allows only that folder's index.ts). The check reads every non-test .ts file, resolves its
// relative imports and fails on any import of a folder not on the list. src/raft keeps its purity
// rules on top: no node: imports, no clocks, timers or global randomness.
// Usage: node scripts/check-layers.mjs [srcDir]   (a srcDir argument is for the script's own test)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const src = resolve(process.argv[2] ?? new URL('../src/', import.meta.url).pathname);
/** Folders without a README rule: generated code and ambient type declarations. */
const EXEMPT = new Set(['proto', 'types']);
const bad = [];

function rulesOf(layer) {
  const readme = join(src, layer, 'README.md');
  if (!existsSync(readme)) {
    bad.push(`src/${layer}: no README.md with a "May import:" line`);
    return undefined;
  }
  const line = readFileSync(readme, 'utf8')
    .split('\n')
    .find((l) => /^\s*May import:/.test(l));
  if (!line) {
    bad.push(`src/${layer}/README.md: no "May import:" line`);
    return undefined;
  }
  const rules = new Map();
  // The first sentence lists the folders: `name`, `name (index.ts only)`, `../name/*` or a file
  // `../name/file.js` (then only the named files of that folder); `node:` modules are not ours.
  const list = line.replace(/^\s*May import:\s*/, '').split(/\.(\s|$)/)[0];
  if (/^\s*nothing/.test(list)) return rules;
  for (const raw of list.split(',')) {
    const item = raw.replaceAll('`', '').trim();
    if (item.startsWith('node:') || item === '') continue;
    const m = item.match(/^(?:\.\.\/)?([a-z0-9-]+)(?:\/([^\s]*))?\s*(\(index\.ts only\))?/);
    if (!m) continue;
    const rule = rules.get(m[1]) ?? { indexOnly: false, files: undefined };
    if (m[3]) rule.indexOnly = true;
    if (m[2] && m[2] !== '*') {
      rule.files = rule.files ?? new Set();
      rule.files.add(m[2].replace(/\.js$/, ''));
    }
    rules.set(m[1], rule);
  }
  return rules;
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function checkPurity(file, lines) {
  lines.forEach((line, i) => {
    const where = `${relative(process.cwd(), file)}:${i + 1}`;
    if (/from\s+['"]node:/.test(line) || /require\(['"]node:/.test(line))
      bad.push(`${where}: node: import in src/raft`);
    if (/Math\.random|Date\.now|new Date\(|performance\.now|hrtime/.test(line))
      bad.push(`${where}: clock or randomness in src/raft`);
  });
}

for (const layer of readdirSync(src)) {
  if (EXEMPT.has(layer) || !statSync(join(src, layer)).isDirectory()) continue;
  const rules = rulesOf(layer);
  if (!rules) continue;
  for (const file of walk(join(src, layer), [])) {
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    if (layer === 'raft') checkPurity(file, lines);
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), m[1]);
      const rel = relative(src, target);
      if (rel.startsWith('..')) {
        bad.push(`${relative(process.cwd(), file)}: imports ${m[1]}, outside src/`);
        continue;
      }
      const to = rel.split(sep)[0];
      if (to === layer) continue;
      const rule = rules.get(to);
      const line = lines.findIndex((l) => l.includes(m[1])) + 1;
      const where = `${relative(process.cwd(), file)}:${line}`;
      if (!rule) {
        bad.push(
          `${where}: src/${layer} may not import src/${to} (${m[1]}); see src/${layer}/README.md "May import:"`,
        );
      } else if (rule.indexOnly && rel.replace(/\.js$/, '') !== join(to, 'index')) {
        bad.push(`${where}: src/${layer} imports src/${to} only through src/${to}/index.ts, not ${m[1]}`);
      } else if (rule.files && !rule.files.has(rel.slice(to.length + 1).replace(/\.js$/, ''))) {
        bad.push(
          `${where}: src/${layer} may import only ${[...rule.files].join(', ')} of src/${to}, not ${m[1]}`,
        );
      }
    }
  }
}

if (bad.length > 0) {
  console.error(`layer check failed (${bad.length}):\n${bad.join('\n')}`);
  process.exit(1);
}
console.log('layer check: every src folder imports only what its README allows');
