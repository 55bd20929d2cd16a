// Goal: bad input on the JSON gateway (invalid JSON, wrong types, unknown fields, oversized bodies,
// bodies cut mid-stream, random routes and methods) gets grpc-gateway's answer shapes, no internal
// error text reaches a client, no call is left open, and the member keeps serving. Method: a
// bounded seeded run (gateway-fuzz.ts) against one tsetcd member, then a put and a range through the
// gateway and the member's started-vs-handled counters; the same seed against real etcd 3.4 proves
// the checker passes on the reference, and the two are compared answer by answer (printed).
// GATEWAY_FUZZ_SEED=<n> replays a seed; the seed is printed either way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { haveCommand, startMember, waitFor } from '../helpers/index.js';
import { unfinishedCalls } from './cluster.js';
import { crashesEtcd34, type GatewayFuzzReport, runGatewayFuzz } from './gateway-fuzz.js';

const CASES = 250;
const seed = Number(process.env.GATEWAY_FUZZ_SEED ?? Math.floor(Math.random() * 1e9));

async function post(endpoint: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`http://${endpoint}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return (await r.json()) as Record<string, unknown>;
}

function failuresText(r: GatewayFuzzReport): string {
  return r.failures.map((f) => `#${f.index} ${f.cls}: ${f.problem}\n    ${f.request}`).join('\n');
}

const reports = new Map<string, GatewayFuzzReport>();

test(`gateway fuzz (seed ${seed}): tsetcd answers every case in grpc-gateway's shapes and keeps serving`, {
  timeout: 240_000,
}, async (t) => {
  console.log(`gateway fuzz seed ${seed} (GATEWAY_FUZZ_SEED=${seed} replays it)`);
  const m = await startMember('tsetcd', { name: 'gz', t });
  const r = await runGatewayFuzz(m.endpoint, seed, CASES);
  reports.set('tsetcd', r);
  assert.equal(r.failures.length, 0, failuresText(r));
  assert.ok(m.pid() !== undefined, 'member still running');
  const put = await post(m.endpoint, '/v3/kv/put', { key: 'YWZ0ZXI=', value: 'b2s=' });
  assert.ok(put.header, JSON.stringify(put));
  const got = await post(m.endpoint, '/v3/kv/range', { key: 'YWZ0ZXI=' });
  assert.equal((got.kvs as { value: string }[] | undefined)?.[0]?.value, 'b2s=');
  // Every call the fuzzer started has ended (its connections are closed).
  await waitFor(async () => (await unfinishedCalls(m.endpoint)).size === 0, {
    timeoutMs: 15_000,
    what: 'every gateway call ended',
  });
});

test(`gateway fuzz (seed ${seed}) against etcd 3.4: the checker passes on the reference`, {
  skip: haveCommand('etcd') ? false : 'etcd not on PATH',
  timeout: 240_000,
}, async (t) => {
  const m = await startMember('etcd', { name: 'gz', t });
  const r = await runGatewayFuzz(m.endpoint, seed, CASES, 4, crashesEtcd34);
  reports.set('etcd', r);
  assert.equal(r.failures.length, 0, failuresText(r));
  assert.ok(m.pid() !== undefined, 'etcd still running');
  const mine = reports.get('tsetcd');
  if (mine) {
    const differ = r.answers.flatMap((a, i) =>
      a === 'skipped' || a === mine.answers[i] ? [] : [`#${i}: etcd ${a} | tsetcd ${mine.answers[i]}`],
    );
    console.log(
      `gateway fuzz: ${differ.length} of ${CASES} answers differ from etcd 3.4\n${differ.slice(0, 30).join('\n')}`,
    );
  }
});
