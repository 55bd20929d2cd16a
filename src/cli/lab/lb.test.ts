/**
 * Goal: `tsetcd lab lb` shows seed 000's result with numbers, through tsetcd/client: round_robin
 * spreads Puts evenly over the three members (each within ±5% of 1/3), over static endpoints and
 * over a dns:/// name the lab's DNS server answers; pick_first sends all to one; the counts (each
 * member's grpc_server_handled_total, the member_id in each response header, and PSH segments per
 * client address when tcpdump runs as root) agree on where requests went. (lb.faults.test.ts: the
 * scenarios, and the same against etcd 3.4.)
 * Method: runLbLab in-process, tsetcd members spawned on free ports, 90 Puts per mode; the metrics
 * parser and the quantile on fixed samples; the table and the HTML carry the numbers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { putsHandled, quantile, runLbLab } from './lb.js';
import { checkSeedResult } from './lb-check.js';
import { renderLbHtml, renderLbText } from './report-lb.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

test('putsHandled sums KV.Put over every grpc_code and ignores other methods', () => {
  const sample = [
    '# HELP grpc_server_handled_total Total number of RPCs completed on the server.',
    'grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 41',
    'grpc_server_handled_total{grpc_code="Unavailable",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 2',
    'grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 7',
    'grpc_server_started_total{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 44',
  ].join('\n');
  assert.equal(putsHandled(sample), 43);
});

test('quantile is nearest-rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(quantile(xs, 0.5), 50);
  assert.equal(quantile(xs, 0.99), 99);
  assert.equal(quantile(xs, 1), 100);
  assert.equal(quantile([7], 0.99), 7);
  assert.equal(quantile([], 0.5), null);
});

describe('tsetcd lab lb', () => {
  test('tsetcd: round_robin and dns:/// spread, pick_first pins; table and HTML carry the numbers', {
    timeout: 120_000,
  }, async () => {
    const r = await runLbLab({
      requests: 90,
      rate: 200,
      endpoints: [],
      seedPorts: false,
      binary: 'tsetcd',
      root,
      log: () => {},
    });
    assert.deepEqual(
      r.policies.map((p) => p.policy),
      ['round_robin', 'pick_first', 'dns_round_robin'],
    );
    checkSeedResult(r);
    const text = renderLbText(r);
    for (const p of r.policies)
      for (const m of p.members)
        assert.match(
          text,
          new RegExp(`\\| ${p.policy} +\\| ${m.member} +\\| ${m.endpoint} +\\| +${m.requests} \\|`),
        );
    const html = renderLbHtml(r);
    for (const p of r.policies)
      for (const m of p.members)
        assert.ok(html.includes(`data-answers="${m.requests}"`), `${p.policy} ${m.member}`);
  });
});
