// Goal: a range big enough that tsetcd answers it piece by piece (src/server/range-stream.ts: a
// plain key range of at least RANGE_STREAM_KEYS_MIN keys, no limit) answers exactly as etcd 3.4's
// whole-message Range: same KeyValues, order, revisions, count and `more`, at the current and at
// an older revision; ranges that are not piecewise (keys-only, limit, sorted) beside them.
// Method: the same 12,000-key history (txns of 100 puts with values of varying length, then
// overwrites and deletes) on a fresh etcd and a fresh tsetcd; responses normalized and compared
// (see test/helpers/diff.ts). Breaking the piecewise encoder (e.g. dropping the count field) fails
// the first step.
import { RangeRequest_SortOrder, RangeRequest_SortTarget } from '../../src/proto/etcdserverpb/rpc.js';
import { RANGE_STREAM_KEYS_MIN } from '../../src/server/index.js';
import { b, diffCase } from '../helpers/index.js';

const KEYS = 12_000;
const key = (i: number) => b(`key/${String(i).padStart(6, '0')}`);
const ALL = Buffer.from([0]);

diffCase('a range of more than RANGE_STREAM_KEYS_MIN keys answers as etcd', async (s) => {
  if (KEYS - 500 <= RANGE_STREAM_KEYS_MIN)
    throw new Error('the history is too small to exercise the piecewise path');
  for (let lo = 0; lo < KEYS; lo += 100) {
    const success = [];
    for (let i = lo; i < lo + 100; i++)
      success.push({ requestPut: { key: key(i), value: b('v'.repeat(i % 150)) } });
    await s.clients.kv.txn({ compare: [], success, failure: [] });
  }
  const mid = (await s.clients.kv.range({ key: key(0) })).header!.revision;
  const over = [];
  for (let i = 0; i < 100; i++) over.push({ requestPut: { key: key(i * 37), value: b(`again${i}`) } });
  await s.clients.kv.txn({ compare: [], success: over, failure: [] });
  await s.clients.kv.deleteRange({ key: key(5000), rangeEnd: key(5200) });

  await s.rpc('range all', (c) => c.kv.range({ key: ALL, rangeEnd: ALL }));
  await s.rpc('range [1000, 11500)', (c) => c.kv.range({ key: key(1000), rangeEnd: key(11500) }));
  await s.rpc('range all at the revision before the overwrites', (c) =>
    c.kv.range({ key: ALL, rangeEnd: ALL, revision: mid }),
  );
  await s.rpc('range all, sort by key ascending', (c) =>
    c.kv.range({
      key: ALL,
      rangeEnd: ALL,
      sortOrder: RangeRequest_SortOrder.ASCEND,
      sortTarget: RangeRequest_SortTarget.KEY,
    }),
  );
  // not piecewise, for comparison
  await s.rpc('range all keys only', (c) => c.kv.range({ key: ALL, rangeEnd: ALL, keysOnly: true }));
  await s.rpc('range all limit 11000', (c) => c.kv.range({ key: ALL, rangeEnd: ALL, limit: 11_000n }));
});
