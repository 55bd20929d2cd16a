/**
 * Goal: the dashboard reads /metrics as Prometheus does: labels with escapes, +Inf, timestamps, and
 * counters summed by a label; requests per second from two scrapes, a restarted member's counters
 * counting from zero.
 * Method: table tests on fixed text and counters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstValue, parsePromText, sumBy } from './prom-text.js';
import { ratesBetween } from './rates.js';

const TEXT = `# HELP grpc_server_handled_total Total number of RPCs completed on the server.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="OK"} 10
grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="Unavailable"} 2
grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range",grpc_code="OK"} 7 1700000000000
etcd_server_leader_changes_seen_total 3
odd_label{a="x\\"y\\\\z\\n"} 1
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 5
this is not a sample
`;

test('parses samples, labels with escapes, +Inf and timestamps', () => {
  const s = parsePromText(TEXT);
  assert.equal(s.length, 6);
  assert.deepEqual(s[4], { name: 'odd_label', labels: { a: 'x"y\\z\n' }, value: 1 });
  assert.deepEqual(s[5]?.labels, { le: '+Inf' });
  assert.equal(s[2]?.value, 7);
  assert.equal(firstValue(s, 'etcd_server_leader_changes_seen_total'), 3);
  assert.equal(firstValue(s, 'missing'), undefined);
  assert.deepEqual(
    sumBy(s, 'grpc_server_handled_total', 'grpc_method'),
    new Map([
      ['Put', 12],
      ['Range', 7],
    ]),
  );
});

test('rates between scrapes; a counter that went down counts from zero', () => {
  const a = {
    atMs: 1000,
    counts: new Map([
      ['Put', 100],
      ['Range', 50],
    ]),
  };
  const b = {
    atMs: 3000,
    counts: new Map([
      ['Put', 300],
      ['Range', 10],
      ['Txn', 4],
    ]),
  };
  const r = ratesBetween(a, b);
  assert.deepEqual(r.byKey, { Put: 100, Range: 5, Txn: 2 });
  assert.equal(r.total, 107);
  assert.deepEqual(ratesBetween(b, b), { total: 0, byKey: {} });
});
