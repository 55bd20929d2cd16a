// Goal: the most used Node client, the `etcd3` npm package, works against tsetcd unchanged:
// put/get/delete, transactions, prefix and range reads, getAll, counts, leases.
// Method: one fresh member per kind (etcd as the sanity check that the expectations are etcd's,
// then tsetcd; DIFF_AGAINST=etcd makes both real etcd), driven through the client's public API with
// absolute expectations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { diffKinds, startMember } from '../helpers/index.js';

for (const kind of new Set(diffKinds())) {
  test(`etcd3 client against ${kind}`, { timeout: 60_000 }, async (t) => {
    const m = await startMember(kind, { t });
    const client = new Etcd3({ hosts: m.clientURL, dialTimeout: 5000 });
    t.after(() => client.close());

    await t.test('put and get', async () => {
      await client.put('greeting').value('hello');
      assert.equal(await client.get('greeting').string(), 'hello');
      assert.equal(await client.get('absent').string(), null);
      assert.equal(await client.get('greeting').exists(), true);
      const res = await client.get('greeting').exec();
      assert.equal(res.kvs.length, 1);
      assert.equal(res.kvs[0]?.version, '1');
      assert.equal(res.kvs[0]?.create_revision, res.kvs[0]?.mod_revision);
    });

    await t.test('put returns the previous value on request', async () => {
      const r = await client.put('greeting').value('bye').getPrevious();
      assert.equal(r?.value.toString(), 'hello');
      assert.equal(await client.get('greeting').string(), 'bye');
    });

    await t.test('prefix reads, getAll, counts, sort and limit', async () => {
      for (const [k, v] of [
        ['app/b', '2'],
        ['app/a', '1'],
        ['app/c', '3'],
        ['other', 'x'],
      ] as const) {
        await client.put(k).value(v);
      }
      assert.deepEqual(await client.getAll().prefix('app/').strings(), {
        'app/a': '1',
        'app/b': '2',
        'app/c': '3',
      });
      assert.deepEqual(await client.getAll().prefix('app/').keys(), ['app/a', 'app/b', 'app/c']);
      assert.equal(await client.getAll().prefix('app/').count(), 3);
      assert.deepEqual(await client.getAll().prefix('app/').sort('Key', 'Descend').limit(2).keys(), [
        'app/c',
        'app/b',
      ]);
      const all = await client.getAll().keys();
      assert.deepEqual(all, ['app/a', 'app/b', 'app/c', 'greeting', 'other']);
      const ns = client.namespace('app/');
      assert.deepEqual(await ns.getAll().strings(), { a: '1', b: '2', c: '3' });
    });

    await t.test('delete one key and a prefix', async () => {
      const one = await client.delete().key('other').exec();
      assert.equal(one.deleted, '1');
      const prev = await client.delete().prefix('app/').getPrevious();
      assert.deepEqual(prev.map((kv) => kv.key.toString()).sort(), ['app/a', 'app/b', 'app/c']);
      assert.equal(await client.getAll().prefix('app/').count(), 0);
      assert.deepEqual(await client.getAll().keys(), ['greeting']);
    });

    await t.test('transactions take the right branch', async () => {
      const ok = await client
        .if('greeting', 'Value', '==', 'bye')
        .then(client.put('greeting').value('again'), client.put('side').value('effect'))
        .else(client.put('greeting').value('never'))
        .commit();
      assert.equal(ok.succeeded, true);
      assert.equal(await client.get('greeting').string(), 'again');
      assert.equal(await client.get('side').string(), 'effect');
      const no = await client
        .if('greeting', 'Version', '>', 10)
        .then(client.put('greeting').value('never'))
        .else(client.get('side'))
        .commit();
      assert.equal(no.succeeded, false);
      assert.equal(no.responses[0]?.response_range?.kvs[0]?.value.toString(), 'effect');
      assert.equal(await client.get('greeting').string(), 'again');
    });

    await t.test('a lease carries keys and takes them away when revoked', async () => {
      const lease = client.lease(30, { autoKeepAlive: false });
      await lease.put('leased').value('v');
      const id = await lease.grant();
      const kv = await client.get('leased').exec();
      assert.equal(kv.kvs[0]?.lease, id);
      const ka = await lease.keepaliveOnce();
      assert.equal(ka.ID, id);
      assert.equal(ka.TTL, '30');
      await lease.revoke();
      assert.equal(await client.get('leased').string(), null);
    });
  });
}
