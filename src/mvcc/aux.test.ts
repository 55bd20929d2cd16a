// Goal: auxiliary records persist atomically with the write txn they were set in, survive reopen,
// and can be deleted. Method: a real store in a temp dir, reopened.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MvccStore } from './index.js';

test('aux records are written with the txn and read back after reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-aux-'));
  try {
    let s = await MvccStore.open({ dir });
    let t = s.write(1);
    s.setAux(Buffer.from('lease/a'), Buffer.from('1'));
    s.setAux(Buffer.from('lease/b'), Buffer.from('2'));
    s.setAux(Buffer.from('other/x'), Buffer.from('3'));
    t.end();
    t = s.write(2);
    s.setAux(Buffer.from('lease/a'), undefined);
    t.end();
    assert.throws(() => s.setAux(Buffer.from('lease/z'), Buffer.from('0')), /inside a write txn/);
    await s.commit();
    await s.close();
    s = await MvccStore.open({ dir });
    assert.equal(s.consistentIndex, 2);
    assert.deepEqual(
      s.auxRecords(Buffer.from('lease/')).map((r) => [r.key.toString(), r.value.toString()]),
      [['lease/b', '2']],
    );
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
