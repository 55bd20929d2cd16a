// Goal: txn request checks match etcd's API edge: size limits and put/delete overlaps per branch.
// Method: a table of op lists and whether etcd accepts them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestOp } from '../proto/etcdserverpb/rpc.js';
import { EtcdError } from '../wire/errors.js';
import { checkIntervals, checkTxn } from './kv-checks.js';

const put = (key: string): RequestOp => ({
  requestPut: {
    key: Buffer.from(key),
    value: Buffer.alloc(0),
    lease: 0n,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
  },
});
const del = (key: string, end = ''): RequestOp => ({
  requestDeleteRange: { key: Buffer.from(key), rangeEnd: Buffer.from(end, 'latin1'), prevKv: false },
});
const txn = (success: RequestOp[], failure: RequestOp[]): RequestOp => ({
  requestTxn: { compare: [], success, failure },
});

test('duplicate puts and put/delete overlaps within a branch', () => {
  const cases: [string, RequestOp[], boolean][] = [
    ['distinct puts', [put('a'), put('b')], true],
    ['same put twice', [put('a'), put('a')], false],
    ['put inside a deleted range', [del('a', 'c'), put('b')], false],
    ['put at a deleted range end (exclusive)', [del('a', 'c'), put('c')], true],
    ['put after a from-key delete', [del('a', '\u0000'), put('zzz')], false],
    ['overlapping deletes are fine', [del('a', 'c'), del('b', 'd')], true],
    ['nested then/else may share a key', [txn([put('k')], [put('k')])], true],
    ['nested put clashes with outer put', [txn([put('k')], []), put('k')], false],
    ['nested delete covers outer put', [txn([del('a', 'z')], []), put('m')], false],
    ['two nested txns put the same key', [txn([put('k')], []), txn([put('k')], [])], false],
  ];
  for (const [name, ops, ok] of cases) {
    if (ok) checkIntervals(ops);
    else
      assert.throws(
        () => checkIntervals(ops),
        (e: Error) => e instanceof EtcdError && e.kind === 'duplicateKey',
        name,
      );
  }
});

test('max txn ops bounds compares, success and failure separately', () => {
  const ops = (n: number) => Array.from({ length: n }, (_, i) => put(`k${i}`));
  checkTxn({ compare: [], success: ops(3), failure: ops(3) }, 3);
  assert.throws(
    () => checkTxn({ compare: [], success: ops(4), failure: [] }, 3),
    (e: Error) => e instanceof EtcdError && e.kind === 'tooManyOps',
  );
});
