/**
 * Goal: tsetcdctl's parsing and Go-compatible formatting, without a server. Method: table tests of
 * etcdctl's txn grammar (sections, compares, ops and their error texts), pflag-style argument
 * parsing with ETCDCTL_* fallbacks, and Go's %q, humanize.Bytes, Duration and encoding/json forms
 * (expected values taken from etcdctl 3.4 / Go).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Compare_CompareTarget } from '../../proto/etcdserverpb/rpc.js';
import { argify, parseCompare, parseOp, txnSections } from './commands.js';
import { flagValue, GLOBAL_FLAGS, parseArgs } from './flags.js';
import { goDuration, goJson, goQuote, humanizeBytes } from './go-format.js';

test('txn sections end with blank lines; a missing terminator is EOF', () => {
  assert.deepEqual(txnSections('a\n\nb\nc\n\n\n'), [['a'], ['b', 'c'], []]);
  assert.deepEqual(txnSections('\n  \n\n'), [[], [], []]);
  assert.throws(() => txnSections('a\n\nb\n'), /^Error: EOF$/);
});

test('compares and ops with etcdctl 3.4 error texts', () => {
  const c = parseCompare('mod("k") > "3"');
  assert.equal(c.target, Compare_CompareTarget.MOD);
  assert.equal(c.modRevision, 3n);
  assert.equal(parseCompare('value("a b") = "x\\ty"').value?.toString(), 'x\ty');
  assert.throws(() => parseCompare('bogus("t") = "1"'), {
    message: 'malformed comparison: bogus("t") = "1" (unknown target bogus)',
  });
  assert.throws(() => parseCompare('ver("t") = "x"'), {
    message: 'invalid txn compare request: ver("t") = "x"',
  });
  assert.throws(() => parseCompare('novalue'), { message: 'malformed comparison: novalue' });
  assert.deepEqual(argify('put "sp ace" "q\\"v" x'), ['put', 'sp ace', 'q"v', 'x']);
  assert.equal(parseOp('put k v --prev-kv').requestPut?.prevKv, true);
  assert.equal(parseOp('get k --prefix').requestRange?.rangeEnd.toString(), 'l');
  assert.throws(() => parseOp('get'), { message: 'invalid txn compare request: get' });
  assert.throws(() => parseOp('frob k'), { message: 'invalid txn request: frob k' });
});

test('flags: pflag forms and ETCDCTL_* fallbacks', () => {
  const p = parseArgs(['get', '--endpoints=a:1', 'k', '-w', 'json', '--prefix', '--', '--not-a-flag'], {
    ...GLOBAL_FLAGS,
    prefix: { kind: 'bool', help: '' },
  });
  assert.deepEqual(p.args, ['get', 'k', '--not-a-flag']);
  assert.equal(p.flags.get('write-out'), 'json');
  assert.equal(p.flags.get('prefix'), 'true');
  assert.equal(flagValue(p, GLOBAL_FLAGS, 'endpoints', { ETCDCTL_ENDPOINTS: 'x:2' }), 'a:1');
  assert.equal(flagValue(p, GLOBAL_FLAGS, 'dial-timeout', { ETCDCTL_DIAL_TIMEOUT: '7s' }), '7s');
  assert.equal(flagValue(p, GLOBAL_FLAGS, 'hex', {}), 'false');
  assert.throws(() => parseArgs(['--bogus'], GLOBAL_FLAGS), { message: 'unknown flag: --bogus' });
});

test("Go's formatting", () => {
  assert.equal(goQuote('a"b\\c\n\t'), '"a\\"b\\\\c\\n\\t"');
  assert.equal(goQuote(Buffer.from([0x00, 0x7f, 0x41])), '"\\x00\\x7fA"');
  assert.equal(goQuote('héllo'), '"héllo"');
  assert.equal(goQuote(Buffer.from([0xff, 0x41])), '"\\xffA"');
  assert.equal(humanizeBytes(9), '9 B');
  assert.equal(humanizeBytes(20480), '20 kB');
  assert.equal(humanizeBytes(2_100_000), '2.1 MB');
  assert.equal(humanizeBytes(1000), '1.0 kB');
  assert.equal(goDuration(1_563_531), '1.563531ms');
  assert.equal(goDuration(5_000_432_699), '5.000432699s');
  assert.equal(goDuration(900), '900ns');
  assert.equal(
    goJson({
      header: { clusterId: 17819769075584024038n, memberId: 1n, revision: 0n, raftTerm: 2n },
      kvs: [],
      more: false,
      count: 1n,
    }),
    '{"header":{"cluster_id":17819769075584024038,"member_id":1,"raft_term":2},"count":1}',
  );
  assert.equal(goJson({ key: Buffer.from('a'), createRevision: 2n }), '{"key":"YQ==","create_revision":2}');
  assert.equal(goJson({ ID: 5n, peerURLs: ['u'], isLearner: false }), '{"ID":5,"peerURLs":["u"]}');
});
