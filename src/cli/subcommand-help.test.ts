/**
 * Goal: `--help` works on every tsetcd subcommand and nested subcommand (it once answered "unknown
 * flag"). Method: run bin/tsetcd.js with each command path and --help (and -h); each exits 0 and
 * prints a usage text naming the command.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const root = process.env.TSETCD_ROOT ?? join(import.meta.dirname, '..', '..', '..');

const PATHS = [
  [],
  ['bench'],
  ['bench', 'put'],
  ['lab'],
  ['lab', 'kube'],
  ['lab', 'lb'],
  ['certs'],
  ['systemd'],
  ['migrate'],
  ['migrate', 'follow'],
  ['snapshot'],
  ['snapshot', 'restore'],
  ['snapshot', 'status'],
];

function run(args: string[]): Promise<{ code: number; text: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'bin', 'tsetcd.js'), ...args],
      { timeout: 30_000 },
      (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? -1) : 0, text: `${out}${err}` }),
    );
  });
}

test('tsetcd <subcommand ...> --help prints its usage and exits 0', async () => {
  const runs = PATHS.map((path, i) => [path, i % 2 === 0 ? '--help' : '-h'] as const);
  const results = await Promise.all(runs.map(([path, flag]) => run([...path, flag])));
  for (const [i, [path, flag]] of runs.entries()) {
    const { code, text } = results[i]!;
    const what = `tsetcd ${[...path, flag].join(' ')}`;
    assert.equal(code, 0, `${what}: exit ${code}\n${text}`);
    assert.match(text, /Usage/, what);
    assert.ok(text.includes(`tsetcd ${path[0] ?? ''}`.trim()), `${what} names it`);
  }
});
