/**
 * The persisted lease table (id -> granted TTL, checkpointed remaining TTL) as auxiliary records of
 * the MVCC store: a grant, a checkpoint or a revoke is written in the same lmdb batch as the
 * consistent index of the entry that made it, so a restart (or a replay from the WAL) sees the lease
 * table exactly as of the applied index. A record is 8 bytes (TTL; written before checkpoints
 * existed) or 16 (TTL, remaining TTL).
 * Callers must change it inside that entry's write txn.
 */
import type { MvccStore } from '../mvcc/index.js';
import type { LeasePersistence } from './lessor.js';

const PREFIX = Buffer.from('lease/');

export class MvccLeaseStore implements LeasePersistence {
  constructor(private readonly store: Pick<MvccStore, 'auxRecords' | 'setAux'>) {}

  load(): { id: bigint; ttl: number; remainingTtl: number }[] {
    return this.store.auxRecords(PREFIX).map(({ key, value }) => ({
      id: key.readBigInt64BE(PREFIX.length),
      ttl: Number(value.readBigInt64BE(0)),
      remainingTtl: value.length >= 16 ? Number(value.readBigInt64BE(8)) : 0,
    }));
  }

  put(id: bigint, ttl: number, remainingTtl: number): void {
    const value = Buffer.alloc(16);
    value.writeBigInt64BE(BigInt(ttl), 0);
    value.writeBigInt64BE(BigInt(remainingTtl), 8);
    this.store.setAux(keyOf(id), value);
  }

  delete(id: bigint): void {
    this.store.setAux(keyOf(id), undefined);
  }
}

function keyOf(id: bigint): Buffer {
  const k = Buffer.alloc(PREFIX.length + 8);
  PREFIX.copy(k, 0);
  k.writeBigInt64BE(id, PREFIX.length);
  return k;
}
