/**
 * Goal: `tsetcdctl ... --help` prints what etcdctl 3.4 prints for every command, group and the root,
 * byte for byte. Method: for each command path, run etcdctl 3.4's `--help` and tsetcdctl's run()
 * in-process, and compare after naming both programs alike; tsetcdctl's own global flag
 * (--lb-policy) is left out, and so are the root's commands tsetcdctl does not have (cobra's
 * `completion` and the v2 `migrate`). Also a table test of Go's tabwriter.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { GROUPS, goTabwriter } from './help.js';
import { run } from './main.js';
import { COMMANDS } from './registry.js';

const haveEtcdctl =
  spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;

async function tsetcdctlHelp(words: string[]): Promise<string> {
  let out = '';
  const code = await run([...words, '--help'], { out: (s) => (out += s.toString()), err: (s) => (out += s) });
  assert.equal(code, 0);
  return out
    .split('\n')
    .filter((l) => !l.includes('--lb-policy'))
    .join('\n')
    .replaceAll('tsetcdctl', 'etcdctl');
}

function etcdctlHelp(words: string[]): string {
  const r = spawnSync('etcdctl', [...words, '--help'], { env: { ...process.env, ETCDCTL_API: '3' } });
  return r.stdout
    .toString()
    .split('\n')
    .filter((l) => !/^\t(completion|migrate)\b/.test(l))
    .join('\n');
}

test('Go tabwriter: columns per block of lines, padded with tabs to multiples of 8', () => {
  assert.equal(goTabwriter('\ta\tx\n\tlonger-than-8\ty\nend\n'), '\ta\t\tx\n\tlonger-than-8\ty\nend\n');
  assert.equal(goTabwriter('a\tb\n\nccccccccc\td\n'), 'a\tb\n\nccccccccc\td\n');
  assert.equal(goTabwriter('x\ty\tz\n'), 'x\ty\tz\n');
});

test('--help of every command, group and the root equals etcdctl 3.4', {
  skip: !haveEtcdctl && 'etcdctl 3.4 not installed',
}, async () => {
  const paths = [[], ...GROUPS.map((g) => [g.name]), ...COMMANDS.map((c) => c.path.split(' '))];
  for (const words of paths) {
    assert.equal(await tsetcdctlHelp(words), etcdctlHelp(words), `help of "${words.join(' ')}"`);
  }
});
