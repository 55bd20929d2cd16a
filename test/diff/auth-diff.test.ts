// Goal: tsetcd's auth is etcd 3.4's: administration through etcdctl (user, role, auth commands and
// their output formats), and the same permission-checked requests per user over keys, ranges,
// prefixes and from-key ranges, txns, watches, leases, Lock, maintenance and membership calls, with
// exact gRPC codes and texts. Method: as in kv-diff — each case runs against a fresh real etcd 3.4
// and a fresh tsetcd; every step states etcd's behaviour, and the normalized transcripts must be equal.
// Tokens differ between the sides (random), so they are recorded by shape only.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as S } from '@grpc/grpc-js';
import { b, diffCase, openWatch, type Session, shapeOf } from '../helpers/index.js';

const PD: readonly [number, string] = [S.PERMISSION_DENIED, 'etcdserver: permission denied'];
/** etcd 3.4's Maintenance service returns the auth package's own error, untranslated (UNKNOWN). */
const RAW_PD: readonly [number, string] = [S.UNKNOWN, 'auth: permission denied'];
const EMPTY_USER: readonly [number, string] = [S.INVALID_ARGUMENT, 'etcdserver: user name is empty'];
const ROOT = ['--user', 'root:rootpw'];
/** bcrypt's lowest cost on both sides: the cases check behaviour, not hashing time. */
const FAST = { flags: ['--bcrypt-cost', '4'] };

/** Steps: user root (rootpw) with the root role, user u (upw) and an empty role r. */
async function addRootAndU(s: Session): Promise<void> {
  await s.rpc('root', (c) => c.auth.userAdd({ name: 'root', password: 'rootpw' }));
  await s.rpc('root role', (c) => c.auth.userGrantRole({ user: 'root', role: 'root' }));
  await s.rpc('add u', (c) => c.auth.userAdd({ name: 'u', password: 'upw' }));
  await s.rpc('add role r', (c) => c.auth.roleAdd({ name: 'r' }));
}

/** Logs `name` in over gRPC and returns the token (recorded by shape). */
async function login(s: Session, name: string, password: string): Promise<string> {
  const r = await s.rpc(`${name} logs in`, (c) => c.auth.authenticate({ name, password }), {
    project: (v) => ({ ...(v as object), token: shapeOf((v as { token: unknown }).token) }),
  });
  return r.ok ? r.response.token : '';
}

diffCase(
  'etcdctl: user, role and permission administration, output formats',
  async (s) => {
    await s.ctl('user add root:rootpw --interactive=false');
    await s.ctl('user add root:again --interactive=false', {
      fail: 'Error: etcdserver: user name already exists',
    });
    await s.ctl('user grant-role root root');
    await s.ctl('user add alice --new-user-password=apw');
    await s.ctl('user add carol --no-password');
    await s.ctl('role add reader');
    await s.ctl('role add writer');
    await s.ctl('role add reader', { fail: 'Error: etcdserver: role name already exists' });
    await s.ctl('role grant-permission reader read k1');
    await s.ctl('role grant-permission reader read a z');
    await s.ctl('role grant-permission reader read --prefix p/');
    await s.ctl('role grant-permission writer readwrite --from-key m');
    await s.ctl('role grant-permission writer write --prefix w/');
    await s.ctl('role grant-permission writer read --prefix w/');
    await s.ctl('role grant-permission nope read x', { fail: 'Error: etcdserver: role name not found' });
    await s.ctl('role get reader -w table', { fail: 'Error: table not supported as output format' });
    await s.ctl('user list -w fields', { fail: 'Error: fields not supported as output format' });
    for (const w of ['simple', 'json']) {
      await s.ctl(`role get reader -w ${w}`);
      await s.ctl(`role get writer -w ${w}`);
      await s.ctl(`role list -w ${w}`);
      await s.ctl(`user list -w ${w}`);
    }
    await s.ctl('user grant-role alice reader');
    await s.ctl('user grant-role alice writer');
    await s.ctl('user grant-role alice nope', { fail: 'Error: etcdserver: role name not found' });
    await s.ctl('user grant-role nobody reader', { fail: 'Error: etcdserver: user name not found' });
    for (const w of ['simple', 'json']) {
      await s.ctl(`user get alice -w ${w}`);
      await s.ctl(`user get alice --detail -w ${w}`);
    }
    await s.ctl('user get nobody', { fail: 'Error: etcdserver: user name not found' });
    await s.ctl('role revoke-permission reader k1');
    await s.ctl('role revoke-permission reader k1', {
      fail: 'Error: etcdserver: permission is not granted to the role',
    });
    await s.ctl('role revoke-permission reader --prefix p/');
    await s.ctl('role revoke-permission writer --from-key m');
    await s.ctl('role get reader');
    await s.ctl('user revoke-role alice writer');
    await s.ctl('user revoke-role alice writer', {
      fail: 'Error: etcdserver: role is not granted to the user',
    });
    await s.ctl('auth enable');
    await s.ctl('auth enable', { fail: true }); // etcdctl asks for a user now
    await s.ctl([...ROOT, 'auth', 'enable']);
    await s.ctl([...ROOT, 'user', 'list']);
    await s.ctl(['--user', 'root:wrong', 'user', 'list'], {
      fail: 'Error: etcdserver: authentication failed, invalid user ID or password',
    });
    await s.ctl(['--user', 'carol:x', 'get', 'a'], { fail: true });
    await s.ctl(['--user', 'alice:apw', 'user', 'list'], { fail: 'Error: etcdserver: permission denied' });
    await s.ctl(['--user', 'alice:apw', 'user', 'get', 'alice']);
    await s.ctl(['--user', 'alice:apw', 'role', 'get', 'reader']);
    await s.ctl(['--user', 'alice:apw', 'role', 'get', 'writer'], {
      fail: 'Error: etcdserver: permission denied',
    });
    await s.ctl([...ROOT, 'put', 'b', '1']);
    await s.ctl(['--user', 'alice:apw', 'get', 'b']);
    await s.ctl(['--user', 'alice', '--password', 'apw', 'get', 'a', 'c']);
    await s.ctl(['--user', 'alice:apw', 'put', 'b', '2'], { fail: 'Error: etcdserver: permission denied' });
    await s.ctl(['--user', 'alice:apw', 'get', 'b', '--from-key'], {
      fail: 'Error: etcdserver: permission denied',
    });
    await s.ctl([...ROOT, 'user', 'passwd', 'alice', '--interactive=false'], { input: 'apw2\n' });
    await s.ctl(['--user', 'alice:apw', 'get', 'b'], {
      fail: 'Error: etcdserver: authentication failed, invalid user ID or password',
    });
    await s.ctl(['--user', 'alice:apw2', 'get', 'b']);
    await s.ctl([...ROOT, 'user', 'delete', 'root'], { fail: 'Error: etcdserver: invalid auth management' });
    await s.ctl([...ROOT, 'role', 'delete', 'root'], { fail: 'Error: etcdserver: invalid auth management' });
    await s.ctl([...ROOT, 'user', 'revoke-role', 'root', 'root'], {
      fail: 'Error: etcdserver: invalid auth management',
    });
    await s.ctl([...ROOT, 'role', 'delete', 'reader']);
    await s.ctl([...ROOT, 'user', 'get', 'alice']);
    await s.ctl([...ROOT, 'user', 'delete', 'alice']);
    await s.ctl([...ROOT, 'user', 'list']);
    await s.ctl([...ROOT, 'auth', 'disable']);
    await s.ctl('get b');
    await s.ctl('user delete root');
    await s.ctl('user list');
  },
  FAST,
);

diffCase(
  'grpc: permissions per user over keys, ranges, prefixes, from-key; admin-only calls',
  async (s) => {
    await s.rpc('root', (c) => c.auth.userAdd({ name: 'root', password: 'rootpw' }));
    await s.rpc('root role', (c) => c.auth.userGrantRole({ user: 'root', role: 'root' }));
    await s.rpc('add u', (c) => c.auth.userAdd({ name: 'u', password: 'upw' }));
    await s.rpc('add v', (c) => c.auth.userAdd({ name: 'v', password: 'vpw' }));
    await s.rpc('add role r', (c) => c.auth.roleAdd({ name: 'r' }));
    await s.rpc('add role x', (c) => c.auth.roleAdd({ name: 'x' }));
    // r: read key "k", read [a, c), readwrite prefix "p/", write from "w".
    const grant = (role: string, permType: number, key: string, rangeEnd: Buffer | string) =>
      s.rpc(`grant ${role} ${permType} ${key}`, (c) =>
        c.auth.roleGrantPermission({
          name: role,
          perm: { permType, key: b(key), rangeEnd: typeof rangeEnd === 'string' ? b(rangeEnd) : rangeEnd },
        }),
      );
    await grant('r', 0, 'k', '');
    await grant('r', 0, 'a', 'c');
    await grant('r', 2, 'p/', 'p0');
    await grant('r', 1, 'w', Buffer.from([0]));
    // x: read [c, e) — with r's [a, c) it covers [a, e) without a gap.
    await grant('x', 0, 'c', 'e');
    await grant('x', 0, 'c', 'e'); // the same again: updates, adds nothing
    await s.rpc('role get r (sorted by key)', (c) => c.auth.roleGet({ role: 'r' }));
    await s.rpc('u gets r', (c) => c.auth.userGrantRole({ user: 'u', role: 'r' }));
    await s.rpc('v gets r and x', (c) => c.auth.userGrantRole({ user: 'v', role: 'x' }));
    await s.rpc('v gets r', (c) => c.auth.userGrantRole({ user: 'v', role: 'r' }));
    await s.rpc('user get v', (c) => c.auth.userGet({ name: 'v' }));
    await s.rpc('enable', (c) => c.auth.authEnable({}));
    const root = await login(s, 'root', 'rootpw');
    const u = await login(s, 'u', 'upw');
    const v = await login(s, 'v', 'vpw');
    await s.rpc('unknown user logs in', (c) => c.auth.authenticate({ name: 'nobody', password: 'x' }), {
      fail: [S.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password'],
    });
    for (const k of ['k', 'a', 'b', 'c', 'd', 'p/1', 'w', 'wz', 'z']) {
      await s.rpc(`root puts ${k}`, (c) => c.kv.put({ key: b(k), value: b('v') }, { token: root }));
    }
    const read = async (who: string, tok: string, key: string, end: string | Buffer, ok: boolean) =>
      s.rpc(
        `${who} reads ${key}..${end.toString()}`,
        (c) => c.kv.range({ key: b(key), rangeEnd: typeof end === 'string' ? b(end) : end }, { token: tok }),
        ok ? {} : { fail: PD },
      );
    await read('u', u, 'k', '', true);
    await read('u', u, 'a', '', true);
    await read('u', u, 'a', 'c', true);
    await read('u', u, 'a', 'b', true);
    await read('u', u, 'a', 'd', false);
    await read('v', v, 'a', 'd', true);
    await read('v', v, 'a', 'e', true);
    await read('v', v, 'a', 'f', false);
    await read('u', u, 'c', '', false);
    await read('u', u, 'p/', 'p0', true);
    await read('u', u, 'p/1', '', true);
    await read('u', u, 'p', 'p0', false);
    await read('u', u, 'w', Buffer.from([0]), false); // write-only
    await read('u', u, 'z', '', false);
    await s.rpc('no token reads', (c) => c.kv.range({ key: b('k') }), { fail: EMPTY_USER });
    await s.rpc('garbage token', (c) => c.kv.range({ key: b('k') }, { token: 'abc.1' }), {
      fail: [S.UNAUTHENTICATED, 'etcdserver: invalid auth token'],
    });
    const put = async (who: string, tok: string, key: string, ok: boolean, extra: object = {}) =>
      s.rpc(
        `${who} puts ${key} ${JSON.stringify(extra)}`,
        (c) => c.kv.put({ key: b(key), value: b('x'), ...extra }, { token: tok }),
        ok ? {} : { fail: PD },
      );
    await put('u', u, 'p/2', true);
    await put('u', u, 'p/2', true, { prevKv: true });
    await put('u', u, 'w', true);
    await put('u', u, 'wzz', true);
    await put('u', u, 'w', false, { prevKv: true }); // prev_kv needs read too
    await put('u', u, 'a', false);
    await put('u', u, 'v', false);
    await s.rpc('u deletes p/ prefix', (c) =>
      c.kv.deleteRange({ key: b('p/'), rangeEnd: b('p0') }, { token: u }),
    );
    await s.rpc('u deletes from w', (c) =>
      c.kv.deleteRange({ key: b('w'), rangeEnd: b('\0') }, { token: u }),
    );
    await s.rpc(
      'u deletes from v',
      (c) => c.kv.deleteRange({ key: b('v'), rangeEnd: b('\0') }, { token: u }),
      {
        fail: PD,
      },
    );
    await s.rpc(
      'u deletes w with prev_kv',
      (c) => c.kv.deleteRange({ key: b('w'), prevKv: true }, { token: u }),
      {
        fail: PD,
      },
    );
    // Txn: compares need read, every op of the taken and the untaken branch its own permission.
    const txn = (step: string, t: object, ok: boolean) =>
      s.rpc(step, (c) => c.kv.txn(t, { token: u }), ok ? {} : { fail: PD });
    await txn('txn read-only, granted', { success: [{ requestRange: { key: b('a') } }] }, true);
    await txn('txn read-only, denied', { success: [{ requestRange: { key: b('z') } }] }, false);
    await txn(
      'txn compare on a granted key, write in prefix',
      {
        compare: [{ key: b('k'), target: 0, result: 0, version: 1 }],
        success: [{ requestPut: { key: b('p/t'), value: b('1') } }],
        failure: [{ requestRange: { key: b('a') } }],
      },
      true,
    );
    await txn(
      'txn compare on a denied key',
      { compare: [{ key: b('z'), target: 0, result: 0, version: 1 }], success: [] },
      false,
    );
    await txn(
      'txn with a denied op in the untaken branch',
      {
        success: [{ requestPut: { key: b('p/t'), value: b('2') } }],
        failure: [{ requestPut: { key: b('b'), value: b('2') } }],
      },
      false,
    );
    await txn(
      'txn delete with prev_kv on write-only range',
      { success: [{ requestDeleteRange: { key: b('wz'), prevKv: true } }] },
      false,
    );
    // Leases: grant needs nothing; revoke needs write on every attached key.
    const l1 = await s.rpc('u grants a lease', (c) =>
      c.lease.leaseGrant({ ID: 1001, TTL: 60 }, { token: u }),
    );
    const l2 = await s.rpc('root grants a lease', (c) =>
      c.lease.leaseGrant({ ID: 1002, TTL: 60 }, { token: root }),
    );
    if (l1.ok && l2.ok) {
      await s.rpc('u attaches p/l', (c) =>
        c.kv.put({ key: b('p/l'), value: b('1'), lease: 1001 }, { token: u }),
      );
      await s.rpc('root attaches a', (c) =>
        c.kv.put({ key: b('a'), value: b('1'), lease: 1002 }, { token: root }),
      );
      await s.rpc(
        'u attaches p/m to a lease holding a',
        (c) => c.kv.put({ key: b('p/m'), value: b('1'), lease: 1002 }, { token: u }),
        { fail: PD },
      );
      await s.rpc('u revokes its lease', (c) => c.lease.leaseRevoke({ ID: 1001 }, { token: u }));
      await s.rpc('u revokes a lease holding a', (c) => c.lease.leaseRevoke({ ID: 1002 }, { token: u }), {
        fail: PD,
      });
      await s.rpc(
        'u asks time-to-live',
        (c) => c.lease.leaseTimeToLive({ ID: 1002, keys: true }, { token: u }),
        {
          project: (r) => ({ ...(r as object), TTL: shapeOf((r as { TTL: unknown }).TTL) }),
        },
      );
      await s.rpc('u lists leases', (c) => c.lease.leaseLeases({}, { token: u }));
    }
    // Admin-only calls.
    await s.rpc('u lists users', (c) => c.auth.userList({}, { token: u }), { fail: PD });
    await s.rpc('no token lists users', (c) => c.auth.userList({}), { fail: EMPTY_USER });
    await s.rpc('u gets own user', (c) => c.auth.userGet({ name: 'u' }, { token: u }));
    await s.rpc('u gets v', (c) => c.auth.userGet({ name: 'v' }, { token: u }), { fail: PD });
    await s.rpc('u gets own role', (c) => c.auth.roleGet({ role: 'r' }, { token: u }));
    await s.rpc('u gets role x', (c) => c.auth.roleGet({ role: 'x' }, { token: u }), { fail: PD });
    await s.rpc('u hashes', (c) => c.maintenance.hashKv({}, { token: u }), { fail: RAW_PD });
    await s.rpc('u hashes (Hash)', (c) => c.maintenance.hash({}, { token: u }), { fail: RAW_PD });
    await s.rpc('u defragments', (c) => c.maintenance.defragment({}, { token: u }), { fail: RAW_PD });
    await s.rpc(
      'u adds a member',
      (c) => c.cluster.memberAdd({ peerURLs: ['http://127.0.0.1:1'] }, { token: u }),
      {
        fail: PD,
      },
    );
    await s.rpc('no token removes a member', (c) => c.cluster.memberRemove({ ID: 1 }), { fail: EMPTY_USER });
    await s.rpc('u lists members', (c) => c.cluster.memberList({}, { token: u }), { project: shapeOf });
    // (without etcd 3.6's fields, which tsetcd fills and etcd 3.4 leaves out: see kv-diff's statusView)
    await s.rpc('u status', (c) => c.maintenance.status({}, { token: u }), {
      project: (v) => {
        const {
          storageVersion: _sv,
          dbSizeQuota: _q,
          downgradeInfo: _d,
          ...r
        } = v as Record<string, unknown>;
        return shapeOf(r);
      },
    });
    await s.rpc('u compacts (etcd 3.4 checks nothing)', (c) => c.kv.compact({ revision: 2 }, { token: u }));
    await s.rpc('root hashes', (c) => c.maintenance.hashKv({}, { token: root }), { project: shapeOf });
    // A permission change: a simple token carries no revision of its own and sees it at once.
    await s.rpc('revoke r read [a, c)', (c) =>
      c.auth.roleRevokePermission({ role: 'r', key: b('a'), rangeEnd: b('c') }, { token: root }),
    );
    await read('u', u, 'a', '', false);
    await s.rpc('delete u', (c) => c.auth.userDelete({ name: 'u' }, { token: root }));
    await s.rpc('deleted user token', (c) => c.kv.range({ key: b('k') }, { token: u }), {
      fail: [S.UNAUTHENTICATED, 'etcdserver: invalid auth token'],
    });
    await s.rpc('disable as v', (c) => c.auth.authDisable({}, { token: v }), { fail: PD });
    await s.rpc('disable', (c) => c.auth.authDisable({}, { token: root }));
    await s.rpc('old token after disable', (c) => c.kv.range({ key: b('k') }, { token: root }), {
      fail: [S.UNAUTHENTICATED, 'etcdserver: invalid auth token'],
    });
    await s.rpc('no token after disable', (c) => c.kv.range({ key: b('k') }));
  },
  FAST,
);

diffCase(
  'grpc: watch creation checks the range as the caller',
  async (s) => {
    await addRootAndU(s);
    await s.rpc('grant', (c) =>
      c.auth.roleGrantPermission({ name: 'r', perm: { permType: 0, key: b('p/'), rangeEnd: b('p0') } }),
    );
    await s.rpc('grant point m', (c) =>
      c.auth.roleGrantPermission({ name: 'r', perm: { permType: 0, key: b('m') } }),
    );
    await s.rpc('u gets r', (c) => c.auth.userGrantRole({ user: 'u', role: 'r' }));
    await s.rpc('enable', (c) => c.auth.authEnable({}));
    const u = await login(s, 'u', 'upw');
    const root = await login(s, 'root', 'rootpw');
    const w = openWatch(s.clients, { token: u });
    try {
      const create = async (step: string, key: string, rangeEnd: Buffer | string) => {
        w.send({
          createRequest: { key: b(key), rangeEnd: typeof rangeEnd === 'string' ? b(rangeEnd) : rangeEnd },
        });
        s.record(step, await w.next());
      };
      await create('watch the granted prefix', 'p/', 'p0');
      await create('watch outside', 'q', '');
      await create('watch a wider range', 'p', 'q');
      // etcd 3.4 turns a "\0" range end into a single-key check: a from-key watch at m passes.
      await create('from-key watch at a granted single key', 'm', Buffer.from([0]));
      await s.rpc('root puts p/1', (c) => c.kv.put({ key: b('p/1'), value: b('1') }, { token: root }));
      // Both granted watchers see it; etcd's order among watchers is free, so sort by watch id.
      const got = [await w.next(), await w.next()].sort((x, y) => Number(x.watchId - y.watchId));
      s.record('event on the granted watches', got);
    } finally {
      w.close();
    }
    const anon = openWatch(s.clients);
    try {
      anon.send({ createRequest: { key: b('p/1') } });
      s.record('watch without a token', await anon.next());
    } finally {
      anon.close();
    }
  },
  FAST,
);

/** An RS256 key pair in a fresh folder (removed at exit), for `--auth-token jwt,...`. */
function jwtFlags(): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-jwt-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'priv.pem'), privateKey.export({ format: 'pem', type: 'pkcs1' }));
  writeFileSync(join(dir, 'pub.pem'), publicKey.export({ format: 'pem', type: 'spki' }));
  return [
    '--auth-token',
    `jwt,pub-key=${join(dir, 'pub.pem')},priv-key=${join(dir, 'priv.pem')},sign-method=RS256,ttl=10m`,
  ];
}

diffCase(
  'grpc: JWT tokens carry the auth revision; a permission change makes them stale',
  async (s) => {
    await addRootAndU(s);
    await s.rpc('grant r a', (c) =>
      c.auth.roleGrantPermission({ name: 'r', perm: { permType: 2, key: b('a') } }),
    );
    await s.rpc('u gets r', (c) => c.auth.userGrantRole({ user: 'u', role: 'r' }));
    await s.rpc('enable', (c) => c.auth.authEnable({}));
    const root = await login(s, 'root', 'rootpw');
    const u = await login(s, 'u', 'upw');
    await s.rpc('u puts a', (c) => c.kv.put({ key: b('a'), value: b('1') }, { token: u }));
    await s.rpc('u reads a', (c) => c.kv.range({ key: b('a') }, { token: u }));
    await s.rpc('grant r b (auth revision moves)', (c) =>
      c.auth.roleGrantPermission({ name: 'r', perm: { permType: 0, key: b('b') } }, { token: root }),
    );
    const OLD: readonly [number, string] = [S.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old'];
    await s.rpc('u reads a with a stale token', (c) => c.kv.range({ key: b('a') }, { token: u }), {
      fail: OLD,
    });
    await s.rpc(
      'u puts a with a stale token',
      (c) => c.kv.put({ key: b('a'), value: b('2') }, { token: u }),
      {
        fail: OLD,
      },
    );
    const u2 = await login(s, 'u', 'upw');
    await s.rpc('u reads b with a fresh token', (c) => c.kv.range({ key: b('b') }, { token: u2 }));
    await s.rpc('a token signed by someone else', (c) => c.kv.range({ key: b('a') }, { token: `${u2}x` }), {
      fail: [S.UNAUTHENTICATED, 'etcdserver: invalid auth token'],
    });
  },
  { flags: [...jwtFlags(), ...FAST.flags] },
);

diffCase(
  'grpc: Lock and Election act as the caller',
  async (s) => {
    await addRootAndU(s);
    await s.rpc('grant lk/', (c) =>
      c.auth.roleGrantPermission({ name: 'r', perm: { permType: 2, key: b('lk/'), rangeEnd: b('lk0') } }),
    );
    await s.rpc('u gets r', (c) => c.auth.userGrantRole({ user: 'u', role: 'r' }));
    await s.rpc('enable', (c) => c.auth.authEnable({}));
    const u = await login(s, 'u', 'upw');
    await s.rpc('u grants a lease', (c) => c.lease.leaseGrant({ ID: 2001, TTL: 60 }, { token: u }));
    const held = await s.rpc('u locks lk', (c) => c.lock.lock({ name: b('lk'), lease: 2001 }, { token: u }));
    await s.rpc('u locks other', (c) => c.lock.lock({ name: b('other'), lease: 2001 }, { token: u }), {
      fail: [S.UNKNOWN, 'etcdserver: permission denied'],
    });
    await s.rpc('no token locks lk', (c) => c.lock.lock({ name: b('lk'), lease: 2001 }), {
      fail: [S.UNKNOWN, 'etcdserver: user name is empty'],
    });
    await s.rpc('u asks the leader of other', (c) => c.election.leader({ name: b('other') }, { token: u }), {
      fail: [S.UNKNOWN, 'etcdserver: permission denied'],
    });
    await s.rpc('u asks the leader of lk', (c) => c.election.leader({ name: b('lk') }, { token: u }));
    if (held.ok) {
      await s.rpc('u unlocks', (c) => c.lock.unlock({ key: held.response.key }, { token: u }));
    }
  },
  FAST,
);
