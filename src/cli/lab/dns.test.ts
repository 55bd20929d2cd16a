/**
 * Goal: the lab's DNS server answers as a cluster DNS does for a headless and a ClusterIP Service.
 * Method: the server on 127.0.0.1 with a free UDP port, queried with node's own resolver (c-ares):
 * every search-list form of a name, A vs AAAA, unknown names, records replaced while running, and
 * malformed packets (no answer, no crash).
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { after, before, test } from 'node:test';
import { ClusterDns, parseQuery, type QueryLog, serviceNames } from './dns.js';

const logs: QueryLog[] = [];
const dns = new ClusterDns((l) => logs.push(l));
let resolver: Resolver;

before(async () => {
  dns.setRecords({ 'grpc-svc': ['10.244.0.11', '10.244.0.12', '10.244.0.13'], 'http-svc': ['10.96.0.20'] });
  const port = await dns.listen('127.0.0.1', 0);
  resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
});
after(() => dns.close());

test('a headless Service answers every pod IP, under every search-list form of its name', async () => {
  for (const name of serviceNames('grpc-svc')) {
    assert.deepEqual(await resolver.resolve4(name), ['10.244.0.11', '10.244.0.12', '10.244.0.13'], name);
  }
  assert.deepEqual(await resolver.resolve4('HTTP-SVC.default.svc.cluster.local'), ['10.96.0.20']);
  assert.equal(logs.at(-1)?.name, 'http-svc.default.svc.cluster.local');
});

test('AAAA of a known name is NODATA, unknown names are NXDOMAIN', async () => {
  await assert.rejects(resolver.resolve6('grpc-svc'), { code: 'ENODATA' });
  await assert.rejects(resolver.resolve4('nope.default.svc.cluster.local'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver.resolve4('example.com'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver.resolveTxt('_grpc_config.grpc-svc'), { code: 'ENOTFOUND' });
});

test('records replaced while running are answered at once (a deployment scaled)', async () => {
  dns.setRecords({ 'grpc-svc': ['10.244.0.11', '10.244.0.12', '10.244.0.13', '10.244.0.14', '10.244.0.15'] });
  assert.equal((await resolver.resolve4('grpc-svc')).length, 5);
  await assert.rejects(resolver.resolve4('http-svc'), { code: 'ENOTFOUND' });
});

test('malformed queries are dropped without an answer, and the server keeps serving', async () => {
  assert.equal(parseQuery(Buffer.alloc(5)), undefined);
  const bad = Buffer.alloc(20);
  bad.writeUInt16BE(1, 4); // one question whose label runs past the end
  bad[12] = 60;
  assert.equal(parseQuery(bad), undefined);
  const s = createSocket('udp4');
  await new Promise<void>((res) =>
    s.send(bad, Number(resolver.getServers()[0]!.split(':')[1]), '127.0.0.1', () => res()),
  );
  s.close();
  assert.equal((await resolver.resolve4('grpc-svc')).length, 5);
});
