// Goal: grpc.health.v1 answers as etcd's: Check("") SERVING, Check(other) NotFound "unknown service",
// Watch("") streams SERVING, Watch(other) SERVICE_UNKNOWN and stays open. Beyond etcd 3.4 (as etcd
// 3.5 does): the overall status follows the member's health, so a NOSPACE alarm turns a Watch to
// NOT_SERVING and disarming it back to SERVING.
// Method: the same calls against etcd 3.4 and tsetcd (differential); the alarm step on tsetcd alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { AlarmRequest_AlarmAction, AlarmType } from '../../src/proto/etcdserverpb/rpc.js';
import {
  type HealthCheckResponse,
  HealthService,
  HealthCheckResponse_ServingStatus as S,
} from '../../src/proto/grpc/health/v1/health.js';

import { connect, diffCase, type Session, startMember, waitFor } from '../helpers/index.js';

/** Opens a Health.Watch and collects what it streams. */
function watchHealth(s: { clients: { raw: import('@grpc/grpc-js').Client } }, service: string) {
  const seen: number[] = [];
  const path = HealthService.watch.path;
  const stream: ClientReadableStream<HealthCheckResponse> = s.clients.raw.makeServerStreamRequest(
    path,
    (r: { service: string }) => Buffer.from(HealthService.watch.requestSerialize({ service: r.service })),
    (b: Buffer) => HealthService.watch.responseDeserialize(b),
    { service },
  );
  stream.on('data', (d: HealthCheckResponse) => seen.push(d.status));
  stream.on('error', () => {});
  return { seen, cancel: () => stream.cancel() };
}

diffCase('health: Check and Watch, known and unknown services', async (s: Session) => {
  await s.rpc('check ""', (c) => c.health.check({ service: '' }));
  await s.rpc('check unknown', (c) => c.health.check({ service: 'etcdserverpb.KV' }), {
    fail: [5, 'unknown service'],
  });
  for (const service of ['', 'nope']) {
    const w = watchHealth(s, service);
    await waitFor(() => w.seen.length > 0, { timeoutMs: 5000 });
    w.cancel();
    s.record(`watch ${JSON.stringify(service)}`, w.seen);
  }
});

test('health: a NOSPACE alarm turns Watch("") to NOT_SERVING, disarming back to SERVING', async (t) => {
  const m = await startMember('tsetcd', { t });
  const c = connect(m.endpoint);
  t.after(() => c.close());
  const w = watchHealth({ clients: c }, '');
  t.after(() => w.cancel());
  await waitFor(() => w.seen.at(-1) === S.SERVING, { timeoutMs: 5000 });
  await c.maintenance.alarm({ action: AlarmRequest_AlarmAction.ACTIVATE, alarm: AlarmType.NOSPACE });
  await waitFor(() => w.seen.at(-1) === S.NOT_SERVING, { timeoutMs: 5000 });
  assert.equal((await c.health.check({ service: '' })).status, S.NOT_SERVING);
  await c.maintenance.alarm({ action: AlarmRequest_AlarmAction.DEACTIVATE, alarm: AlarmType.NOSPACE });
  await waitFor(() => w.seen.at(-1) === S.SERVING, { timeoutMs: 5000 });
  assert.deepEqual(w.seen, [S.SERVING, S.NOT_SERVING, S.SERVING]);
});
