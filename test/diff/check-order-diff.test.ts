import {
  AlarmRequest_AlarmAction,
  AlarmType,
  Compare_CompareResult as R,
  Compare_CompareTarget as T,
} from '../../src/proto/etcdserverpb/rpc.js';
import { ETCD_ERRORS } from '../helpers/etcd-errors.js';
import { b, diffCase } from '../helpers/index.js';

const E = ETCD_ERRORS;

const MISSING_LEASE = 0x999;
const put = (key: string, more: Record<string, unknown> = {}) => ({ requestPut: { key: b(key), ...more } });
const get = (key: string, more: Record<string, unknown> = {}) => ({ requestRange: { key: b(key), ...more } });
const del = (key: string) => ({ requestDeleteRange: { key: b(key) } });

diffCase('grpc: Put failing two ways answers as etcd (lease before key, gRPC checks first)', async (s) => {
  const p = (step: string, req: Parameters<typeof s.clients.kv.put>[0], fail?: readonly [number, string]) =>
    s.rpc(step, (c) => c.kv.put(req), fail === undefined ? {} : { fail });
  await p(
    'ignore_value + missing key + missing lease',
    { key: b('nokey'), ignoreValue: true, lease: MISSING_LEASE },
    E.leaseNotFound,
  );
  await p(
    'ignore_value + prev_kv + missing key + missing lease',
    { key: b('nokey'), ignoreValue: true, prevKv: true, lease: MISSING_LEASE },
    E.leaseNotFound,
  );
  await p(
    'ignore_lease + missing key + a lease',
    { key: b('nokey'), value: b('v'), ignoreLease: true, lease: MISSING_LEASE },
    E.leaseProvided,
  );
  await p(
    'ignore_value + a value + missing key',
    { key: b('nokey'), value: b('v'), ignoreValue: true },
    E.valueProvided,
  );
  await p(
    'ignore_value + a value + ignore_lease + a lease',
    { key: b('nokey'), value: b('v'), ignoreValue: true, ignoreLease: true, lease: MISSING_LEASE },
    E.valueProvided,
  );
  await p('empty key + ignore_value + a value', { key: b(''), value: b('v'), ignoreValue: true }, E.emptyKey);
  await p('empty key + missing lease', { key: b(''), value: b('v'), lease: MISSING_LEASE }, E.emptyKey);
  await p(
    'too large + missing lease',
    { key: b('big'), value: Buffer.alloc(1_600_000, 1), lease: MISSING_LEASE },
    E.tooLarge,
  );
  await p(
    'ignore_value + ignore_lease + missing key',
    { key: b('nokey'), ignoreValue: true, ignoreLease: true },
    E.keyNotFound,
  );
  await p('existing key', { key: b('k'), value: b('v') });
  await p(
    'ignore_value + existing key + missing lease',
    { key: b('k'), ignoreValue: true, lease: MISSING_LEASE },
    E.leaseNotFound,
  );
  await s.rpc('nothing was written', (c) => c.kv.range({ key: b('\0'), rangeEnd: b('\0') }));
});

diffCase('grpc: Txn failing two ways answers as etcd (put checks before range checks)', async (s) => {
  const x = (step: string, req: Parameters<typeof s.clients.kv.txn>[0], fail?: readonly [number, string]) =>
    s.rpc(step, (c) => c.kv.txn(req), fail === undefined ? {} : { fail });
  await s.rpc('seed', (c) => c.kv.put({ key: b('k'), value: b('1') }));
  await s.rpc('seed again', (c) => c.kv.put({ key: b('k'), value: b('2') }));
  await s.rpc('seed a third time', (c) => c.kv.put({ key: b('k'), value: b('3') }));
  await s.rpc('compact', (c) => c.kv.compact({ revision: 3, physical: true }));
  await x(
    'put ignore_value + missing key + missing lease',
    { success: [put('nokey', { ignoreValue: true, lease: MISSING_LEASE })] },
    E.keyNotFound,
  );
  await x(
    'missing lease, then ignore_value on a missing key',
    { success: [put('a', { value: b('v'), lease: MISSING_LEASE }), put('nokey', { ignoreValue: true })] },
    E.leaseNotFound,
  );
  await x(
    'ignore_value on a missing key, then a missing lease',
    { success: [put('nokey', { ignoreValue: true }), put('a', { value: b('v'), lease: MISSING_LEASE })] },
    E.keyNotFound,
  );
  await x(
    'range at a compacted revision, then a missing lease',
    { success: [get('k', { revision: 1 }), put('a', { value: b('v'), lease: MISSING_LEASE })] },
    E.leaseNotFound,
  );
  await x(
    'range at a future revision, then ignore_value on a missing key',
    { success: [get('k', { revision: 1000 }), put('nokey', { ignoreValue: true })] },
    E.keyNotFound,
  );
  await x(
    'range at a future revision, then a compacted one',
    { success: [get('k', { revision: 1000 }), get('k', { revision: 1 })] },
    E.future,
  );
  await x(
    'nested: outer range compacted, inner put with a missing lease',
    {
      success: [
        get('k', { revision: 1 }),
        { requestTxn: { success: [put('a', { value: b('v'), lease: MISSING_LEASE })] } },
      ],
    },
    E.leaseNotFound,
  );
  await x(
    'failure path taken: its missing lease, not the success path',
    {
      compare: [{ key: b('k'), target: T.VALUE, result: R.EQUAL, value: b('nope') }],
      success: [put('nokey', { ignoreValue: true })],
      failure: [put('a', { value: b('v'), lease: MISSING_LEASE })],
    },
    E.leaseNotFound,
  );
  await x(
    'duplicate keys + an empty key later',
    { success: [put('d', { value: b('1') }), put('d', { value: b('2') }), del('')] },
    E.emptyKey,
  );
  await x(
    'duplicate keys in success + a value with ignore_value in failure',
    {
      success: [put('d', { value: b('1') }), put('d', { value: b('2') })],
      failure: [put('e', { value: b('v'), ignoreValue: true })],
    },
    E.valueProvided,
  );
  await x(
    'duplicate keys + a missing lease',
    { success: [put('d', { value: b('1'), lease: MISSING_LEASE }), put('d', { value: b('2') })] },
    E.duplicateKey,
  );
  await s.rpc('nothing was written', (c) => c.kv.range({ key: b('\0'), rangeEnd: b('\0') }));
});

diffCase('grpc: NOSPACE before apply-time checks; lease TTL before lease existence', async (s) => {
  const g = await s.rpc('grant', (c) => c.lease.leaseGrant({ TTL: 100, ID: 0x55 }));
  if (!g.ok) return;
  await s.rpc(
    'grant too large TTL with an existing id',
    (c) => c.lease.leaseGrant({ TTL: 9_000_000_001, ID: 0x55 }),
    {
      fail: E.ttlTooLarge,
    },
  );
  await s.rpc('activate NOSPACE', (c) =>
    c.maintenance.alarm({ action: AlarmRequest_AlarmAction.ACTIVATE, memberID: 0, alarm: AlarmType.NOSPACE }),
  );
  await s.rpc(
    'put with a missing lease under NOSPACE',
    (c) => c.kv.put({ key: b('a'), value: b('v'), lease: MISSING_LEASE }),
    {
      fail: E.noSpace,
    },
  );
  await s.rpc(
    'put ignore_value on a missing key under NOSPACE',
    (c) => c.kv.put({ key: b('nokey'), ignoreValue: true }),
    {
      fail: E.noSpace,
    },
  );
  await s.rpc(
    'txn put ignore_value on a missing key under NOSPACE',
    (c) => c.kv.txn({ success: [put('nokey', { ignoreValue: true })] }),
    { fail: E.noSpace },
  );
  await s.rpc('empty key under NOSPACE', (c) => c.kv.put({ key: b(''), value: b('v') }), {
    fail: E.emptyKey,
  });
  await s.rpc('deactivate', (c) =>
    c.maintenance.alarm({
      action: AlarmRequest_AlarmAction.DEACTIVATE,
      memberID: 0,
      alarm: AlarmType.NOSPACE,
    }),
  );
});
