/**
 * Goal: the client's auth against real etcd 3.4 (tsetcd's auth server is being built elsewhere):
 * user/password → token on the first call, and a fresh token when the server answers "invalid auth
 * token". Method: etcd 3.4 with a root user and auth enabled; a Client with `auth` writes; then etcd
 * is restarted, which forgets its simple tokens, and the same Client must go on working (it gets
 * UNAUTHENTICATED "etcdserver: invalid auth token", authenticates again, resends). Wrong credentials
 * give the typed authFailed error. Mutation check: without the re-authentication in
 * Connection.unary, the call after the restart rejects with invalidAuthToken.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, errors } from '../../src/client/index.js';
import { haveCommand, type Member, startMember } from '../helpers/index.js';

const haveEtcd = haveCommand('etcd');
let m: Member;
before(async () => {
  if (!haveEtcd) return;
  m = await startMember('etcd', {});
  const admin = new Client({ endpoints: [m.endpoint] });
  await admin.auth.userAdd('root', 'rootpw');
  await admin.auth.userGrantRole('root', 'root');
  await admin.auth.enable();
  admin.close();
});
after(async () => {
  await m?.cleanup();
});

test('token on first use and re-authentication after "invalid auth token"', {
  skip: !haveEtcd && 'etcd 3.4 not installed',
}, async () => {
  const c = new Client({ endpoints: [m.endpoint], auth: { user: 'root', password: 'rootpw' } });
  try {
    await c.kv.put('a', '1');
    assert.equal((await c.kv.get('a')).kvs[0]?.value.toString(), '1');
    const anonymous = new Client({ endpoints: [m.endpoint] });
    await assert.rejects(anonymous.kv.get('a'), errors.userEmpty);
    anonymous.close();
    await m.restart(); // simple tokens live in etcd's memory only
    await c.kv.put('a', '2', { retry: true });
    assert.equal((await c.kv.get('a')).kvs[0]?.value.toString(), '2');
  } finally {
    c.close();
  }
  const wrong = new Client({ endpoints: [m.endpoint], auth: { user: 'root', password: 'nope' } });
  await assert.rejects(wrong.kv.get('a'), errors.authFailed);
  wrong.close();
});
