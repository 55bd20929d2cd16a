// Goal: etcdctl 3.4 commands that dial URL-shaped endpoints work against tsetcd (grpc-go then sends
// the URL as HTTP/2 :authority, which nghttp2 refuses unless repaired), and grpc-js clients are served
// on both paths (native and repaired). Method: a tsetcd process, Debian's etcdctl; grpc-js with a
// URL-shaped default authority forcing the repair path, unary calls and a bidi stream on it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, credentials } from '@grpc/grpc-js';
import { KVService, LeaseService, PutRequest, RangeRequest } from '../../src/proto/etcdserverpb/rpc.js';
import { b, etcdctl, startMember } from '../helpers/index.js';

test('etcdctl with URL endpoints and --cluster against tsetcd', { timeout: 60_000 }, async (t) => {
  const m = await startMember('tsetcd', { t });
  const url = m.clientURL;
  assert.equal((await etcdctl(m.endpoint, ['put', 'k', 'v'])).code, 0);
  const cases: string[][] = [
    ['endpoint', 'status', '--cluster'],
    ['endpoint', 'hashkv', '--cluster'],
    ['endpoint', 'health', '--cluster'],
  ];
  for (const args of cases) {
    const r = await etcdctl(m.endpoint, args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    // etcdctl 3.4 prints endpoint health results on stderr, the others on stdout.
    assert.ok((r.stdout + r.stderr).includes(url), `${args.join(' ')} names ${url}: ${r.stdout}${r.stderr}`);
  }
  const status = await etcdctl(url, ['endpoint', 'status', '-w', 'json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(JSON.parse(status.stdout)[0].Endpoint, url);
});

test('grpc-js with a URL-shaped authority goes through the repair path, unary and streaming', {
  timeout: 60_000,
}, async (t) => {
  const m = await startMember('tsetcd', { t });
  const c = new Client(m.endpoint, credentials.createInsecure(), { 'grpc.default_authority': m.clientURL });
  t.after(() => c.close());
  const unary = <Req, Res>(
    def: { path: string; requestSerialize(r: Req): Buffer; responseDeserialize(b: Buffer): Res },
    req: Req,
  ) =>
    new Promise<Res>((resolve, reject) =>
      c.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, (err, res) =>
        err ? reject(err) : resolve(res!),
      ),
    );
  for (let i = 0; i < 20; i++) {
    await unary(KVService.put, PutRequest.fromPartial({ key: b(`r${i}`), value: b(String(i)) }));
  }
  const r = await unary(KVService.range, RangeRequest.fromPartial({ key: b('r'), rangeEnd: b('s') }));
  assert.equal(r.count, 20n);
  const g = await unary(LeaseService.leaseGrant, { TTL: 30n, ID: 0n });
  const stream = c.makeBidiStreamRequest(
    LeaseService.leaseKeepAlive.path,
    LeaseService.leaseKeepAlive.requestSerialize,
    LeaseService.leaseKeepAlive.responseDeserialize,
  );
  const ttls: bigint[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (res: { TTL: bigint }) => {
      ttls.push(res.TTL);
      if (ttls.length === 3) stream.end();
    });
    stream.on('end', resolve);
    stream.on('error', reject);
    for (let i = 0; i < 3; i++) stream.write({ ID: g.ID });
  });
  assert.deepEqual(ttls, [30n, 30n, 30n]);
});
