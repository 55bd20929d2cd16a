/**
 * Goal: typed errors come from the wire table by exact (code, message) and nothing else. Method: a
 * table test over every row of src/wire/errors.ts, plus near misses (same text with another code,
 * a text with something appended) that must stay untyped; and the retry classification built on it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status, type WireErrorName, wireErrors } from '../wire/index.js';
import { isRetryable } from './connection.js';
import { EtcdError, errors, fromGrpc, isEtcdError, WatchCanceledError } from './errors.js';

test('every wire-table row comes back as its own class', () => {
  for (const kind of Object.keys(wireErrors) as WireErrorName[]) {
    const [code, message] = wireErrors[kind];
    const e = fromGrpc({ code, details: message, message: `${code} ${Status[code]}: ${message}` });
    assert.ok(e instanceof errors[kind], kind);
    assert.ok(e instanceof EtcdError);
    assert.equal(e.kind, kind);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    assert.ok(isEtcdError(e, kind));
    assert.equal(e.name, `${kind[0]!.toUpperCase()}${kind.slice(1)}Error`);
  }
});

test('near misses stay untyped: no substring or code-less matching', () => {
  const [code, message] = wireErrors.compacted;
  const cases = [
    { code: Status.UNKNOWN, details: message },
    { code, details: `${message} (extra)` },
    { code, details: `rpc error: ${message}` },
    { code, details: message.toUpperCase() },
  ];
  for (const c of cases) {
    const e = fromGrpc(c);
    assert.equal(e.kind, undefined, JSON.stringify(c));
    assert.equal(e.code, c.code);
    assert.equal(e.message, c.details);
    assert.ok(!(e instanceof errors.compacted));
  }
  assert.equal(fromGrpc(new Error('boom')).code, Status.UNKNOWN);
});

test('retried exactly where clientv3 retries', () => {
  const retryable: WireErrorName[] = ['noLeader', 'leaderChanged', 'tooManyRequests', 'timeout', 'stopped'];
  for (const k of retryable) assert.ok(isRetryable(new errors[k]()), k);
  const never: WireErrorName[] = [
    'emptyKey',
    'compacted',
    'leaseNotFound',
    'permissionDenied',
    'authFailed',
    'noSpace',
  ];
  for (const k of never) assert.ok(!isRetryable(new errors[k]()), k);
  assert.ok(isRetryable(fromGrpc({ code: Status.UNAVAILABLE, details: 'No connection established' })));
  assert.ok(!isRetryable(fromGrpc({ code: Status.INVALID_ARGUMENT, details: 'anything' })));
});

test('a watch cancelled for permission carries the permission-denied row', () => {
  const e = new WatchCanceledError(wireErrors.permissionDenied[1]);
  assert.equal(e.kind, 'permissionDenied');
  assert.equal(new WatchCanceledError('').kind, 'watchCanceled');
});
