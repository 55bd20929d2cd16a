// Goal: every etcdctl 3.4 command that manages a cluster prints the same shape of output against a
// 3-member tsetcd as against a 3-member etcd 3.4 started with the same flags: member list/add/
// promote/update/remove, endpoint health/status/hashkv --cluster in every format, alarm list,
// defrag --cluster, snapshot save (and the saved file's `snapshot status`: etcdctl's on etcd's file,
// `tsetcd snapshot status` on tsetcd's), move-leader, and the errors of the refused ones.
// Method: both clusters side by side; each command's exit code must be equal and its output equal
// after normalization of what legitimately differs between two clusters (ids, ports, timings, sizes,
// raft indexes, server version, member order): tables compare cell by cell with values masked, JSON
// compares its structure (keys and value types).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Proc, planCluster, startAll, stopAll } from '../helpers/cluster.js';
import { etcdctl, freePort, haveCommand, repoRoot, tempDir, waitFor } from '../helpers/index.js';

/** Masks values that differ between any two clusters; keeps words, column layout and line kinds. */
function mask(s: string): string {
  return (
    s
      .replace(
        /ETCD_INITIAL_CLUSTER="([^"]*)"/,
        (_m, v: string) => `ETCD_INITIAL_CLUSTER="${mask(v).split(',').sort().join(',')}"`,
      )
      // etcdctl prints some ids with %16x: a shorter id comes with padding.
      .replace(/ *\b[0-9a-f]{12,16}\b/g, ' <id>')
      .replace(/127\.0\.0\.1:\d+/g, '<host>')
      .replace(/\/(ts)?etcd\/snapshot\.db/g, '/<side>/snapshot.db')
      .replace(/\b3\.4\.\d+\b/g, '<version>')
      .replace(/\b\d+(\.\d+)? ?(B|kB|MB|GB)\b/g, '<size>')
      .replace(/\b\d+(\.\d+)?(ns|µs|ms|s)\b/g, '<duration>')
      .replace(/\b\d+\b/g, '<n>')
  );
}

/** Text output as a sorted list of masked lines; table rows lose their padding. */
function textShape(out: string): string[] {
  return out
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('{"level"'))
    .map((l) => {
      if (/^\+[-+]+\+$/.test(l)) return '+rule+';
      if (l.startsWith('|'))
        return `|${l
          .split('|')
          .slice(1, -1)
          .map((c) => mask(c.trim()))
          .join('|')}|`;
      return mask(l);
    })
    .sort();
}

/** The structure of a JSON value: keys with the shapes of their values; arrays as sets of shapes. */
function jsonShape(v: unknown): unknown {
  if (Array.isArray(v)) return [...new Set(v.map((x) => JSON.stringify(jsonShape(x))))].sort();
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, jsonShape((v as Record<string, unknown>)[k])]),
    );
  }
  return typeof v;
}

function shapeOf(out: string, json: boolean): unknown {
  if (!json) return textShape(out);
  // Large ids lose precision in JSON.parse; their shape (a number) is all that is compared.
  return out
    .split('\n')
    .filter((l) => l.trim().length > 0 && !l.startsWith('{"level"'))
    .map((l) => jsonShape(JSON.parse(l)));
}

interface Side {
  kind: 'etcd' | 'tsetcd';
  procs: Proc[];
}

/** Runs `args` on both sides (endpoint chosen per side) and compares code, stdout and stderr shapes. */
async function same(
  sides: Side[],
  args: (side: Side) => Promise<{ endpoint: string; args: string[] }> | { endpoint: string; args: string[] },
  what: string,
): Promise<string[]> {
  const results = [];
  let json = false;
  for (const side of sides) {
    const a = await args(side);
    json = a.args.includes('json');
    results.push(await etcdctl(a.endpoint, a.args));
  }
  const [ref, sub] = results as [(typeof results)[0], (typeof results)[0]];
  assert.equal(sub.code, ref.code, `${what}: exit code\netcd: ${ref.stderr}\ntsetcd: ${sub.stderr}`);
  assert.deepEqual(
    shapeOf(sub.stdout, json),
    shapeOf(ref.stdout, json),
    `${what}: stdout\n${ref.stdout}\n${sub.stdout}`,
  );
  assert.deepEqual(textShape(sub.stderr), textShape(ref.stderr), `${what}: stderr`);
  return results.map((r) => r.stdout);
}

/** `member list` rows: [id, status, name, peer, client, isLearner]. */
async function members(endpoint: string): Promise<string[][]> {
  const r = await etcdctl(endpoint, ['member', 'list']);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(', '));
}

async function leaderEndpoint(procs: Proc[]): Promise<string> {
  const r = await etcdctl(procs.map((p) => p.client).join(','), ['endpoint', 'status']);
  const row = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(', '))
    .find((l) => l[4] === 'true');
  assert.ok(row, `a leader in\n${r.stdout}${r.stderr}`);
  return row[0]!.replace('http://', '');
}

test('etcdctl cluster commands: same output shapes as a 3-member etcd 3.4', {
  timeout: 240_000,
  skip: haveCommand(process.env.ETCD_BIN ?? 'etcd') ? false : 'etcd 3.4 is not installed',
}, async (t) => {
  const dir = tempDir('tsetcd-cluster-diff-');
  const sides: Side[] = [];
  t.after(async () => {
    await Promise.all(sides.map((s) => stopAll(s.procs)));
    dir.remove();
  });
  for (const kind of ['etcd', 'tsetcd'] as const) {
    sides.push({ kind, procs: await planCluster(join(dir.path, kind), 3, { kind, token: 'diff-cluster' }) });
  }
  await Promise.all(sides.map((s) => startAll(s.procs)));
  const first = (s: Side) => s.procs[0]!.client;
  const cluster = (s: Side, ...args: string[]) => ({ endpoint: first(s), args });

  for (const w of [[], ['-w', 'table'], ['-w', 'json']]) {
    await same(sides, (s) => cluster(s, 'member', 'list', ...w), `member list ${w.join(' ')}`);
    for (const sub of ['health', 'status', 'hashkv']) {
      await same(
        sides,
        (s) => cluster(s, 'endpoint', sub, '--cluster', ...w),
        `endpoint ${sub} ${w.join(' ')}`,
      );
    }
  }
  await same(sides, (s) => cluster(s, 'alarm', 'list'), 'alarm list');
  await same(sides, (s) => cluster(s, 'defrag', '--cluster'), 'defrag --cluster');
  await same(
    sides,
    (s) => cluster(s, 'snapshot', 'save', join(dir.path, s.kind, 'snapshot.db')),
    'snapshot save',
  );
  // The saved files read back: etcdctl 3.4's `snapshot status` on etcd's (bbolt) file, `tsetcd
  // snapshot status` on tsetcd's (lmdb) file, in every format.
  for (const w of ['simple', 'table', 'json']) {
    const ref = await etcdctl(first(sides[0]!), [
      'snapshot',
      'status',
      join(dir.path, 'etcd', 'snapshot.db'),
      '-w',
      w,
    ]);
    const sub = spawnSync(
      process.execPath,
      [
        join(repoRoot(), 'bin', 'tsetcd.js'),
        'snapshot',
        'status',
        join(dir.path, 'tsetcd', 'snapshot.db'),
        '-w',
        w,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(sub.status, ref.code, `snapshot status -w ${w}: ${sub.stderr}`);
    // The hash is the first field (simple) or cell (table), hex without padding.
    const hashless = (out: string) => out.replace(/^(\| *)?[0-9a-f]+( +\||,)/gm, '$1<hash>$2');
    assert.deepEqual(
      shapeOf(hashless(sub.stdout), w === 'json'),
      shapeOf(hashless(ref.stdout), w === 'json'),
      `snapshot status -w ${w}`,
    );
    assert.equal(
      sub.stdout.endsWith('\n'),
      ref.stdout.endsWith('\n'),
      `snapshot status -w ${w}: final newline`,
    );
  }

  // A learner that never starts: add (refused as "unhealthy cluster" until every voter has been
  // connected for 5 s), promote refused as not ready, update, remove.
  const learnerPort = await freePort();
  // Both sides refuse while a voter has been connected for less than 5 s (tsetcd too, under a
  // loaded machine), so each side retries until its add is accepted.
  for (const s of sides) {
    await waitFor(
      async () =>
        (
          await etcdctl(first(s), [
            'member',
            'add',
            'probe',
            '--learner',
            '--peer-urls',
            'http://127.0.0.1:1',
          ])
        ).code === 0,
      { timeoutMs: 30_000, what: `${s.kind} accepting member add` },
    );
  }
  for (const s of sides) {
    const list = await members(first(s));
    const probe = list.find((m) => m[3] === 'http://127.0.0.1:1');
    assert.ok(probe, `${s.kind}: the probe in ${JSON.stringify(list)}`);
    assert.equal((await etcdctl(first(s), ['member', 'remove', probe[0]!])).code, 0);
  }
  await same(
    sides,
    (s) => cluster(s, 'member', 'add', 'new1', '--learner', '--peer-urls', `http://127.0.0.1:${learnerPort}`),
    'member add --learner',
  );
  const learnerOf = async (s: Side) => {
    const list = await members(first(s));
    // By peer URL: etcd 3.4's `member update` shows an updated learner as a voter afterwards (its
    // update drops the learner flag from the member table); tsetcd keeps it a learner.
    const learner = list.find((m) => m[3] === `http://127.0.0.1:${learnerPort}`);
    assert.ok(learner, `${s.kind}: a learner in ${JSON.stringify(list)}`);
    return learner[0]!;
  };
  const voterOf = async (s: Side) => (await members(first(s))).find((m) => m[2] === s.procs[1]!.name)![0]!;
  await same(
    sides,
    async (s) => cluster(s, 'member', 'promote', await learnerOf(s)),
    'member promote (not ready)',
  );
  await same(
    sides,
    async (s) => cluster(s, 'member', 'promote', await voterOf(s)),
    'member promote (a voter)',
  );
  await same(
    sides,
    async (s) =>
      cluster(
        s,
        'member',
        'update',
        await learnerOf(s),
        '--peer-urls',
        `http://127.0.0.1:${learnerPort + 0}`,
      ),
    'member update',
  );
  await same(sides, async (s) => cluster(s, 'member', 'remove', await learnerOf(s)), 'member remove');
  await same(sides, (s) => cluster(s, 'member', 'remove', 'abcdef'), 'member remove (unknown)');
  await same(sides, (s) => cluster(s, 'member', 'list', '-w', 'table'), 'member list after the changes');

  // move-leader: through the leader's endpoint, and refused without one.
  await same(
    sides,
    async (s) => {
      const leader = await leaderEndpoint(s.procs);
      const target = (await members(first(s))).find((m) => !m[4]!.includes(leader))![0]!;
      return { endpoint: leader, args: ['move-leader', target] };
    },
    'move-leader',
  );
  await same(
    sides,
    async (s) => {
      const leader = await leaderEndpoint(s.procs);
      const follower = s.procs.find((p) => p.client !== leader)!;
      return { endpoint: follower.client, args: ['move-leader', await voterOf(s)] };
    },
    'move-leader via a follower',
  );
});
