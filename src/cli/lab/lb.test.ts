/**
 * Goal: `tsetcd lab lb` shows seed 000's result with numbers: round_robin spreads Puts evenly over
 * the three members (each within ±5% of 1/3), pick_first sends all to one; the two counts (each
 * member's grpc_server_handled_total, and PSH segments per client port when tcpdump runs as root)
 * agree on where requests went. The same run against real etcd 3.4 checks the method itself.
 * Method: runLbLab in-process, members spawned on free ports (tsetcd, then etcd from PATH when
 * there), 90 Puts per policy; the metrics parser on a fixed sample; the HTML's bars.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type LbResult, putsHandled, runLbLab } from './lb.js';
import { renderLbHtml, renderLbText } from './report.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const hasEtcd = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

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

function checkSeedResult(r: LbResult): void {
  const [rr, pf] = r.policies;
  assert.equal(rr?.policy, 'round_robin');
  assert.equal(pf?.policy, 'pick_first');
  for (const p of [rr!, pf!]) {
    assert.equal(p.failures, 0, p.policy);
    assert.equal(
      p.members.reduce((n, m) => n + m.requests, 0),
      p.requests,
      `${p.policy}: members handled every Put`,
    );
  }
  for (const m of rr!.members)
    assert.ok(Math.abs(m.share - 1 / 3) <= 0.05, `round_robin ${m.member}: ${m.share}`);
  assert.deepEqual(pf!.members.map((m) => m.share).sort(), [0, 0, 1], 'pick_first: everything on one member');
  if (r.packetsNote === undefined) {
    // About one PSH segment per Put; tcpdump may drop a few under load but never invents them.
    for (const m of rr!.members)
      assert.ok(m.packets! >= 0.8 * m.requests, `round_robin ${m.member}: packets ${m.packets}`);
    for (const m of pf!.members)
      assert.equal(m.packets === 0, m.requests === 0, `pick_first ${m.member}: packets`);
  }
}

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

  test('etcd 3.4 (reference): the same method gives the same picture', {
    skip: hasEtcd ? false : 'etcd not on PATH',
    timeout: 90_000,
  }, async () => {
    checkSeedResult(
      await runLbLab({ requests: 90, endpoints: [], seedPorts: false, binary: 'etcd', root, log: () => {} }),
    );
  });
});
