// Goal: scripts/check-layers.mjs passes on the real tree and fails on an upward import, an import
// past a folder's index.ts, and impurity in src/raft. Method: run it on src/, then on copies of a
// small src tree, each with one violation, and check the exit status and the message.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = process.env.TSETCD_ROOT ?? new URL('../../..', import.meta.url).pathname;
const script = join(root, 'scripts', 'check-layers.mjs');

function run(src?: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [script, ...(src ? [src] : [])], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** A tree with pkg (bottom), raft (pkg), server (pkg, raft through index.ts) and `extra` files. */
function tree(t: { after(fn: () => void): void }, extra: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-layers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'pkg/README.md': 'May import: nothing.\n',
    'pkg/index.ts': 'export const x = 1;\n',
    'raft/README.md': 'May import: pkg.\n',
    'raft/index.ts': "export * from './core.js';\n",
    'raft/core.ts': "import { x } from '../pkg/index.js';\nexport const y = x;\n",
    'server/README.md': 'May import: pkg, raft (index.ts only).\n',
    'server/member.ts': "import { y } from '../raft/index.js';\nexport const z = y;\n",
    ...extra,
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

test('the real tree passes', () => {
  const r = run();
  assert.equal(r.code, 0, r.out);
});

test('a clean small tree passes', (t) => {
  const r = run(tree(t, {}));
  assert.equal(r.code, 0, r.out);
});

test('an upward import fails', (t) => {
  const r = run(tree(t, { 'raft/up.ts': "import { z } from '../server/member.js';\nexport const w = z;\n" }));
  assert.equal(r.code, 1);
  assert.match(r.out, /src\/raft may not import src\/server/);
});

test('an import past a folder index.ts fails where the README says index.ts only', (t) => {
  const r = run(tree(t, { 'server/deep.ts': "import { y } from '../raft/core.js';\nexport const v = y;\n" }));
  assert.equal(r.code, 1);
  assert.match(r.out, /imports src\/raft only through src\/raft\/index.ts/);
});

test('a clock in src/raft fails (the purity rules)', (t) => {
  const r = run(tree(t, { 'raft/clock.ts': 'export const now = () => Date.now();\n' }));
  assert.equal(r.code, 1);
  assert.match(r.out, /clock or randomness in src\/raft/);
});

test('a folder without a May import line fails', (t) => {
  const r = run(tree(t, { 'wal/README.md': '# wal\n', 'wal/index.ts': 'export {};\n' }));
  assert.equal(r.code, 1);
  assert.match(r.out, /src\/wal\/README.md: no "May import:" line/);
});
