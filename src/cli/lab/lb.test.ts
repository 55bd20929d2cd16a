/**
 * Goal: `tsetcd lab lb` shows seed 000's result with numbers: round_robin spreads Puts evenly over
 * the three members (each within ±5% of 1/3), pick_first sends all to one; the two counts (each
 * member's grpc_server_handled_total, and PSH segments per client port when tcpdump runs as root)
 * agree on where requests went. (lb.faults.test.ts runs the same against etcd 3.4.)
 * Method: runLbLab in-process, tsetcd members spawned on free ports, 90 Puts per policy; the
 * metrics parser on a fixed sample; the table and the HTML carry the numbers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { putsHandled, runLbLab } from './lb.js';
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

describe('tsetcd lab lb', () => {
  test('tsetcd: round_robin spreads, pick_first pins; table and HTML carry the numbers', {
    timeout: 90_000,
  }, async () => {
    const r = await runLbLab({
      requests: 90,
      endpoints: [],
      seedPorts: false,
      binary: 'tsetcd',
      root,
      log: () => {},
    });
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
