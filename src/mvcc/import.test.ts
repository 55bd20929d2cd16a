// Goal: importStore takes etcd's key records byte for byte and refuses any record our readers could
// misread (table of damaged records), naming it. Method: import into a temp dir, open with
// MvccStore and read back; each bad record alone must raise StoreImportError with its reason.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { importStore, MvccStore, StoreImportError } from './index.js';
import { encodeKeyValue } from './kv-codec.js';
import { revKey } from './revision.js';

const put = (main: number, key: string, create: number, version: number, value: string, lease = 0n) => ({
  key: revKey(main, 0, false),
  value: encodeKeyValue(Buffer.from(key), create, main, version, Buffer.from(value), lease),
});

test('importStore: good records come back through MvccStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-import-'));
  try {
    const records = [
      put(2, 'a', 2, 1, 'one'),
      put(3, 'a', 2, 2, 'two', -5n),
      { key: revKey(4, 0, true), value: encodeKeyValue(Buffer.from('a'), 0, 0, 0, Buffer.alloc(0), 0n) },
      put(5, 'b', 5, 1, 'x', 0x7fffffffffffffffn),
    ];
    const r = await importStore(dir, {
      records,
      consistentIndex: 9,
      scheduledCompactRev: 3,
      finishedCompactRev: 3,
    });
    assert.deepEqual(r, { records: 4, maxRev: 5 });
    const s = await MvccStore.open({ dir });
    try {
      assert.equal(s.rev, 5);
      assert.equal(s.compactRev, 3);
      assert.equal(s.consistentIndex, 9);
      assert.equal(s.range(Buffer.from('a'), undefined).kvs.length, 0);
      assert.equal(s.range(Buffer.from('a'), undefined, { rev: 3 }).kvs[0]!.value.toString(), 'two');
      assert.equal(s.range(Buffer.from('b'), undefined).kvs[0]!.lease, 0x7fffffffffffffffn);
    } finally {
      await s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('importStore: damaged records are refused with the record named', async () => {
  const good = put(2, 'a', 2, 1, 'v');
  const cases: [string, { key: Buffer; value: Buffer }, RegExp][] = [
    ['short key', { key: good.key.subarray(0, 16), value: good.value }, /record 0: key is not a revision/],
    [
      'no separator',
      {
        key: Buffer.concat([good.key.subarray(0, 8), Buffer.from('x'), good.key.subarray(9)]),
        value: good.value,
      },
      /not a revision/,
    ],
    [
      'mod revision differs',
      { key: revKey(7, 0, false), value: good.value },
      /revision 7: KeyValue has mod revision 2/,
    ],
    [
      'truncated value',
      { key: good.key, value: good.value.subarray(0, good.value.length - 1) },
      /overruns|truncated/,
    ],
    [
      'unknown field',
      { key: good.key, value: Buffer.concat([good.value, Buffer.from([0x38, 0x01])]) },
      /unknown field tag 56/,
    ],
    [
      'fields out of order',
      { key: good.key, value: Buffer.concat([good.value.subarray(3), good.value.subarray(0, 3)]) },
      /out of order/,
    ],
    [
      'non-minimal varint',
      { key: good.key, value: Buffer.from([0x0a, 0x01, 0x61, 0x10, 0x82, 0x00, 0x18, 0x02, 0x20, 0x01]) },
      /not minimal/,
    ],
    ['create after mod', put(2, 'a', 3, 1, 'v'), /create revision 3/],
    [
      'version 0',
      { key: good.key, value: encodeKeyValue(Buffer.from('a'), 2, 2, 0, Buffer.from('v'), 0n) },
      /version 0/,
    ],
    ['fat tombstone', { key: revKey(2, 0, true), value: good.value }, /tombstone holds more/],
  ];
  for (const [name, rec, want] of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'tsetcd-import-'));
    try {
      await assert.rejects(
        importStore(dir, { records: [rec], consistentIndex: 1 }),
        (e: unknown) => e instanceof StoreImportError && want.test(e.message),
        name,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-import-'));
  try {
    await assert.rejects(
      importStore(dir, { records: [put(3, 'a', 3, 1, 'v'), good], consistentIndex: 1 }),
      /record 1: revision keys out of order/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
