/**
 * Goal: the tsetcdctl commands beyond the key-value core print what etcdctl 3.4 prints (a bounded
 * sample for `npm test`; ctl-golden-more.e2e.ts has the full lists): auth, user and role, snapshot,
 * txn -i, watch (refusals, -i, `-- cmd` with its ETCD_WATCH_* environment), check and make-mirror
 * refusals. Method:
 * the golden twins of ctl-twins.ts (etcdctl against one fresh tsetcd, tsetcdctl against another,
 * outputs compared after normalizing ids); the parts that run for a minute in etcdctl (check perf,
 * make-mirror's 30 s count) are driven through their exported load functions with short settings
 * and checked against the servers' contents.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { datascaleLoad, perfLoad, perfVerdict } from '../../src/cli/tsetcdctl/check-commands.js';
import { makeMirror } from '../../src/cli/tsetcdctl/mirror-command.js';
import { Client } from '../../src/client/index.js';
import { waitFor } from '../helpers/index.js';
import { background, haveEtcdctl, useTwins } from './ctl-twins.js';

const skip = !haveEtcdctl && 'etcdctl 3.4 not installed';
/** Each test's bound (a broken load or mirror must fail, not hang). */
const timeout = 90_000;

const twins = useTwins();

test('user, role and auth: prompts, formats, --user (a sample; the full list is ctl-golden-more)', {
  skip,
  timeout,
}, async () => {
  const s = twins().step.bind(twins());
  await s('role add r1');
  await s('role grant-permission r1 readwrite /a/ --prefix');
  await s('role grant-permission r1 write z --from-key -w json');
  for (const w of ['simple', 'json', 'fields']) await s(`role get r1 -w ${w}`);
  await s('user add u1', 'pw1\npw1\n');
  await s('user grant-role u1 r1 -w fields');
  await s('user get u1 --detail');
  await s('user list -w table');
  await s('user add root:rootpw');
  await s('auth enable');
  await s('get foo --user root', 'rootpw\n');
  await s('get foo --user u1:bad');
  await s('auth disable --user root:rootpw');
});

test('snapshot save, status and restore (a sample)', { skip, timeout }, async () => {
  const s = twins().step.bind(twins());
  await s('snapshot save {dir}/s.db');
  await s('snapshot status {dir}/s.db -w table', { same: true });
  await s('snapshot restore {dir}/s.db --data-dir {dir}/r1');
  await s('snapshot restore {dir}/missing.db --data-dir {dir}/r2');
  assert.ok(existsSync(join(twins().sub.dir, 'r1')));
});

test('txn -i and watch refusals (a sample)', { skip, timeout }, async () => {
  const s = twins().step.bind(twins());
  await s('txn -i', 'value("t") = "1"\n\nput t2 x\n\nget t\n\n');
  await s('watch foo --');
  await s('watch -i', 'watch\nfoo\nwatch a b --prefix\n');
});

test('watch -- cmd runs the command per event with ETCD_WATCH_* as etcdctl', { skip, timeout }, async () => {
  const script =
    'echo "rev=$ETCD_WATCH_REVISION type=$ETCD_WATCH_EVENT_TYPE key=$ETCD_WATCH_KEY value=$ETCD_WATCH_VALUE"';
  // the events are written first and watched from their revision: no race with the watch's start
  const revs: bigint[] = [];
  for (const x of [twins().ref, twins().sub]) {
    const c = new Client({ endpoints: [x.member.endpoint] });
    revs.push((await c.kv.put('wx', 'a"b')).header!.revision);
    await c.kv.delete('wx');
    c.close();
  }
  const args = (i: number) => [
    'watch',
    'wx',
    '--prev-kv',
    '--rev',
    String(revs[i]),
    '--',
    'sh',
    '-c',
    script,
  ];
  const runs = [background(twins().ref, 'etcdctl', args(0)), background(twins().sub, 'tsetcdctl', args(1))];
  try {
    await waitFor(() => runs.every((r) => r.output().includes('type="DELETE"')), {
      timeoutMs: 20_000,
      what: 'both watches saw the delete',
    });
    const texts = runs.map((r) => r.output().replace(/rev=\d+/g, 'rev=<rev>'));
    assert.equal(texts[1], texts[0]);
    // the response is printed, then the command runs once per event with Go-quoted values
    assert.ok(
      texts[1]!.endsWith(
        'rev=<rev> type="PUT" key="wx" value="a\\"b"\nrev=<rev> type="DELETE" key="wx" value=""\n',
      ),
      texts[1],
    );
  } finally {
    for (const r of runs) await r.stop();
  }
});

test('check perf/datascale refusals, and their loads for a short run', { skip, timeout }, async () => {
  const s = twins().step.bind(twins());
  await s('check perf --load huge');
  await s('check datascale --load huge');
  await s('put /etcdctl-check-perf/x 1');
  await s('check perf');
  const c = new Client({ endpoints: [twins().sub.member.endpoint] });
  try {
    // 1 s at 40 writes/s: about 40 puts, and the verdict's lines in etcdctl's words
    const st = await perfLoad([c], { limit: 40, clients: 4, durationS: 1 }, '/short-perf/');
    assert.equal(st.errors.size, 0);
    assert.ok(st.count >= 35 && st.count <= 41, `count ${st.count}`);
    const n = (await c.kv.get('/short-perf/', { prefix: true, countOnly: true })).count;
    assert.ok(n >= 35n, `keys ${n}`);
    const v = perfVerdict(st, 40);
    assert.match(
      v.lines.join('\n'),
      /^(PASS: Throughput is \d+ writes\/s|FAIL: Throughput too low: \d+ writes\/s)\n/,
    );
    assert.match(v.lines.at(-1)!, /^(PASS|FAIL)$/);
    const ds = await datascaleLoad([c], { limit: 100, kvSize: 1024, clients: 8 }, '/short-ds/');
    assert.equal(ds.count, 100);
    const keys = await c.kv.get('/short-ds/', { prefix: true, keysOnly: true });
    assert.equal(keys.kvs.length, 100);
    assert.equal(keys.kvs[0]!.key.length, '/short-ds/'.length + 512);
  } finally {
    c.close();
  }
});

test('make-mirror: refusals as etcdctl; base copy, then revisions as transactions', {
  skip,
  timeout,
}, async () => {
  const s = twins().step.bind(twins());
  await s('make-mirror');
  await s('make-mirror --dest-prefix a --no-dest-prefix 127.0.0.1:1');
  const src = new Client({ endpoints: [twins().ref.member.endpoint] });
  const dst = new Client({ endpoints: [twins().sub.member.endpoint] });
  const stop = new AbortController();
  const counts: number[] = [];
  try {
    for (let i = 0; i < 5; i++) await src.kv.put(`/m/src/${i}`, `v${i}`);
    await src.kv.put('/other', 'x');
    const run = makeMirror(src, dst, {
      prefix: '/m/src/',
      destPrefix: '/m/dst/',
      reportIntervalMs: 100,
      report: (n) => counts.push(n),
      signal: stop.signal,
    });
    const dstKeys = async () =>
      (await dst.kv.get('/m/', { prefix: true })).kvs.map((kv) => `${kv.key}=${kv.value}`).join(',');
    await waitFor(async () => (await dstKeys()).split(',').length === 5, {
      timeoutMs: 10_000,
      what: 'base copy',
    });
    await src.kv.put('/m/src/new', 'n');
    await src.kv.delete('/m/src/0');
    await waitFor(
      async () => (await dstKeys()) === '/m/dst/1=v1,/m/dst/2=v2,/m/dst/3=v3,/m/dst/4=v4,/m/dst/new=n',
      {
        timeoutMs: 10_000,
        what: 'updates mirrored',
      },
    );
    await waitFor(() => counts.at(-1) === 7, { timeoutMs: 5_000, what: 'count of 7 printed' });
    stop.abort();
    assert.equal(await run, 7);
    assert.equal((await dst.kv.get('/other')).kvs.length, 0);
  } finally {
    stop.abort();
    src.close();
    dst.close();
  }
});
