// Goal: the gateway's JSON reader and codec keep what JavaScript's JSON.parse would lose or accept
// wrongly: 64-bit integers exactly, Go's syntax error texts, jsonpb's field names and zero rules.
// Method: table tests on encode/decode round trips through the generated ts-proto codecs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaseGrantRequest, PutRequest, RangeResponse, TxnRequest } from '../../proto/etcdserverpb/rpc.js';
import { jsonToProto, protoToJson } from './json-codec.js';
import { JsonReader } from './json-parse.js';

const parse = (text: string) => new JsonReader(text).next();

test('64-bit integers survive as numbers or strings, beyond 2^53', () => {
  const big = '9223372036854775807';
  for (const text of [`{"ID":${big}}`, `{"ID":"${big}"}`]) {
    const req = LeaseGrantRequest.decode(jsonToProto('etcdserverpb.LeaseGrantRequest', parse(text)));
    assert.equal(req.ID, 9223372036854775807n);
  }
  const out = protoToJson(
    'etcdserverpb.LeaseGrantRequest',
    LeaseGrantRequest.encode({ TTL: 5n, ID: 2n ** 62n }).finish(),
  );
  assert.deepEqual(out, { TTL: '5', ID: String(2n ** 62n) });
});

test('Go syntax errors, in order of appearance', () => {
  const cases: [string, string][] = [
    ['{"a":', 'unexpected EOF'],
    ['x', "invalid character 'x' looking for beginning of value"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b":2}', `invalid character '"' after object key:value pair`],
    ['{a:1}', "invalid character 'a' looking for beginning of object key string"],
    ['[1 2]', "invalid character '2' after array element"],
    ['{"a":tru}', "invalid character '}' in literal true (expecting 'e')"],
    ['"a\\x"', "invalid character 'x' in string escape code"],
  ];
  for (const [text, message] of cases) assert.throws(() => parse(text), { message }, text);
});

test('several values in one body are read one at a time', () => {
  const r = new JsonReader(' {"a":1}\n{"b":[true,null]} ');
  assert.ok(r.next());
  assert.deepEqual(r.next(), { b: [true, null] });
  assert.equal(r.next(), undefined);
});

test('proto and JSON names both decode; zero scalars are left out of the output, oneof members kept', () => {
  const a = PutRequest.decode(jsonToProto('etcdserverpb.PutRequest', parse('{"key":"Zm9v","prev_kv":true}')));
  const b = PutRequest.decode(jsonToProto('etcdserverpb.PutRequest', parse('{"key":"Zm9v","prevKv":true}')));
  assert.deepEqual(a, b);
  assert.equal(a.prevKv, true);
  const txn = TxnRequest.decode(
    jsonToProto(
      'etcdserverpb.TxnRequest',
      parse('{"compare":[{"target":"VERSION","key":"YQ==","version":"0"}]}'),
    ),
  );
  assert.equal(txn.compare[0]?.version, 0n, 'a oneof member set to zero is kept');
  const json = protoToJson('etcdserverpb.TxnRequest', TxnRequest.encode(txn).finish());
  // VERSION is the enum's zero value: left out, as jsonpb leaves it out
  assert.deepEqual(json, { compare: [{ key: 'YQ==', version: '0' }] });
  const empty = protoToJson(
    'etcdserverpb.RangeResponse',
    RangeResponse.encode({ header: undefined, kvs: [], more: false, count: 0n }).finish(),
  );
  assert.deepEqual(empty, {});
});

test("nesting: Go's max depth (10000) is a syntax error, and deep input never overflows the stack", () => {
  const err = (text: string) => {
    try {
      new JsonReader(text).next();
      return 'ok';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.equal(err('['.repeat(10_001)), "invalid character '[' exceeded max depth");
  assert.equal(err('{"a":'.repeat(10_001)), "invalid character '{' exceeded max depth");
  assert.equal(err('['.repeat(9_999)), 'unexpected EOF');
  assert.equal(err(`${'['.repeat(10_000)}${']'.repeat(10_000)}`), 'ok');
  assert.equal(
    JSON.stringify(parse('{"a":[1,{"b":null}],"c":{}}')),
    '{"a":[{"text":"1"},{"b":null}],"c":{}}',
  );
});
