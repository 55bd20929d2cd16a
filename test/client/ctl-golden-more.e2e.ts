/**
 * Goal: the tsetcdctl commands beyond the key-value core print what etcdctl 3.4 prints, in full: auth,
 * user and role in every format (password prompts, --user, every error), snapshot save/status/
 * restore, txn -i, the watch refusals and make-mirror's 30 s count. Method: the golden twins of ctl-twins.ts (etcdctl against
 * one fresh tsetcd, tsetcdctl against another, outputs compared after normalizing ids). About two
 * minutes; `npm run test:client` runs it, `npm test` runs the bounded ctl-commands.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../helpers/index.js';
import { background, haveEtcdctl, useTwins } from './ctl-twins.js';

const FORMATS = ['simple', 'json', 'fields', 'table'];
const skip = !haveEtcdctl && 'etcdctl 3.4 not installed';

const twins = useTwins();

test('user, role and auth commands in every format, with prompts and --user', { skip }, async () => {
  const s = twins().step.bind(twins());
  await s('role add r1');
  await s('role add r1');
  await s('role add r2 -w json');
  await s('role add r3 -w fields');
  await s('role add r4 -w table');
  await s('role grant-permission r1 read foo');
  await s('role grant-permission r1 readwrite /a/ --prefix');
  await s('role grant-permission r1 write z --from-key');
  await s('role grant-permission r1 write a b');
  await s(['role', 'grant-permission', 'r1', 'read', '', '--prefix']);
  await s('role grant-permission r1 bogus a');
  await s('role grant-permission r1 read a b --prefix');
  await s('role grant-permission r1 read');
  await s('user add u1', 'pw1\npw1\n');
  await s('user add u2', 'pw1\npw2\n');
  await s('user add u3 --interactive=false', 'secret more\n');
  await s('user add :x');
  await s('user add u4:p -w fields');
  await s('user add u5 --new-user-password=abc -w json');
  await s('user add u6 --no-password');
  await s('user add u7:p -w table');
  await s('user grant-role u1 r1');
  await s('user grant-role u1 r2 -w fields');
  await s('user grant-role u1 nope');
  for (const w of FORMATS) {
    await s(`role get r1 -w ${w}`);
    await s(`role list -w ${w}`);
    await s(`user list -w ${w}`);
    await s(`user get u1 -w ${w}`);
    await s(`user get u1 --detail -w ${w}`);
  }
  // protobuf carries the member's ids in binary: both tools ask the same member
  for (const c of ['role get r1', 'role list', 'user list', 'user get u1'])
    await s(`${c} -w protobuf`, { same: true });
  await s('user revoke-role u1 r2');
  await s('user revoke-role u1 r2');
  await s('user passwd u1 --interactive=false', 'pw9\n');
  await s('user delete u7');
  await s('user delete u7');
  await s('role delete r4');
  await s('role revoke-permission r1 foo');
  await s('role revoke-permission r1 /a/ --prefix');
  await s('role revoke-permission r1 z --from-key');
  await s('role revoke-permission r1 a b');
  await s('role revoke-permission r1 nope');
  await s('user get nobody');
  await s('auth enable extra');
  await s('auth enable');
  await s('user add root:rootpw');
  await s('auth enable');
  await s('get foo');
  await s('put foo bar --user root:rootpw');
  await s('get foo --user root:bad');
  await s('get foo --user u1:pw9');
  await s('get foo --user root --password rootpw');
  await s('get foo --user root', 'rootpw\n');
  await s('auth disable');
  await s('auth disable --user root:rootpw');
  await s('auth disable');
  await s('get foo --user root:bad');
});

test('snapshot save, status and restore', { skip }, async () => {
  const s = twins().step.bind(twins());
  await s('put snap-key v');
  await s('snapshot save {dir}/s.db');
  await s('snapshot save');
  for (const w of [...FORMATS, 'protobuf']) await s(`snapshot status {dir}/s.db -w ${w}`, { same: true });
  await s('snapshot status {dir}/missing.db');
  await s('snapshot status');
  await s('snapshot restore {dir}/s.db --data-dir {dir}/r1');
  await s('snapshot restore {dir}/s.db --data-dir {dir}/r1');
  await s('snapshot restore {dir}/s.db --name other --data-dir {dir}/r2');
  await s(
    'snapshot restore {dir}/s.db --name other --initial-cluster other=http://127.0.0.1:1 --initial-advertise-peer-urls http://127.0.0.1:1 --data-dir {dir}/r3',
  );
  await s('snapshot restore {dir}/missing.db --data-dir {dir}/r4');
  // tsetcdctl built a tsetcd data dir from the bbolt snapshot
  assert.ok(existsSync(join(twins().sub.dir, 'r1')));
});

test('txn -i prompts and the watch refusals', { skip }, async () => {
  const s = twins().step.bind(twins());
  await s('put t 1');
  await s('txn -i', 'value("t") = "1"\n\nput t2 x\n\nget t\n\n');
  await s('txn --interactive -w json', 'value("t") = "2"\n\nput t2 x\n\nget t\n\n');
  await s('txn -i', 'bogus\n\n');
  await s('txn -i', 'value("t") = "1"\n\nfrob\n\n');
  await s('txn -i', 'value("t") = "1"\n\nput t2 x\n');
  await s('watch');
  await s('watch foo --');
  await s('watch --prefix a b');
  await s('watch foo', { env: { ETCDCTL_WATCH_RANGE_END: 'x' } });
  await s('watch foo', { env: { ETCDCTL_WATCH_KEY: 'k' } });
  await s('watch foo -- echo 1', { env: { ETCDCTL_WATCH_KEY: 'k' } });
  await s('watch -i', 'watch\nfoo\nwatch --\nwatch a b --prefix\nprogress\n');
  const r = await s('put t 2');
  // a watch from a compacted revision is canceled by the server
  const rev = /"revision":(\d+)/.exec((await s('get t -w json')).ref.stdout)?.[1];
  assert.ok(r.ref.code === 0 && rev !== undefined);
  await s(`compaction ${rev}`);
  await s('watch --rev 1 t');
});

test('make-mirror prints its count every 30 s as etcdctl', { skip }, async () => {
  const s = twins().step.bind(twins());
  for (const k of ['a', 'b', 'c']) await s(`put /mm/${k} ${k}`);
  // each tool mirrors /mm/ into /mm2/ of its own server, both at once
  const args = (x: { member: { endpoint: string } }) => [
    'make-mirror',
    '--prefix',
    '/mm/',
    '--dest-prefix',
    '/mm2/',
    x.member.endpoint,
  ];
  const runs = [
    background(twins().ref, 'etcdctl', args(twins().ref)),
    background(twins().sub, 'tsetcdctl', args(twins().sub)),
  ];
  try {
    await waitFor(() => runs.every((r) => r.output() !== ''), {
      timeoutMs: 45_000,
      what: 'both counts printed',
    });
    assert.equal(runs[1]!.output(), runs[0]!.output());
    assert.equal(runs[1]!.output(), '3\n');
  } finally {
    for (const r of runs) await r.stop();
  }
  await s('get /mm2/ --prefix');
});
