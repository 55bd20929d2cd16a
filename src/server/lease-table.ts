/**
 * The persisted lease table (id -> granted TTL) in its own small lmdb environment under
 * `<data-dir>/member/snap/lease`. Changes are buffered and written by `commit()`, which the member
 * calls only after the MVCC commit of the same batch: a crash can then leave a lease whose keys are
 * already gone (harmless: it expires), never keys pointing at a lease record that was lost.
 */
import { mkdirSync } from 'node:fs';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { LeasePersistence } from './lessor.js';

export class LeaseTable implements LeasePersistence {
  private pending = new Map<bigint, number | undefined>();

  private constructor(
    private readonly env: RootDatabase,
    private readonly db: Database<Buffer, Buffer>,
  ) {}

  static open(dir: string): LeaseTable {
    mkdirSync(dir, { recursive: true });
    const env = open({ path: dir, noSubdir: false, maxDbs: 2 } as never) as RootDatabase;
    const db = env.openDB<Buffer, Buffer>({ name: 'lease', keyEncoding: 'binary', encoding: 'binary' });
    return new LeaseTable(env, db);
  }

  load(): { id: bigint; ttl: number }[] {
    const out: { id: bigint; ttl: number }[] = [];
    for (const { key, value } of this.db.getRange()) {
      out.push({ id: (key as Buffer).readBigInt64BE(0), ttl: Number((value as Buffer).readBigInt64BE(0)) });
    }
    return out;
  }

  put(id: bigint, ttl: number): void {
    this.pending.set(id, ttl);
  }

  delete(id: bigint): void {
    this.pending.set(id, undefined);
  }

  get dirty(): boolean {
    return this.pending.size > 0;
  }

  /** Writes buffered changes in one synced lmdb transaction. */
  async commit(): Promise<void> {
    if (this.pending.size === 0) return;
    const ops = this.pending;
    this.pending = new Map();
    await this.env.transaction(() => {
      for (const [id, ttl] of ops) {
        const key = Buffer.alloc(8);
        key.writeBigInt64BE(id, 0);
        if (ttl === undefined) {
          this.db.remove(key);
        } else {
          const value = Buffer.alloc(8);
          value.writeBigInt64BE(BigInt(ttl), 0);
          this.db.put(key, value);
        }
      }
    });
    await this.env.flushed;
  }

  async close(): Promise<void> {
    await this.env.close();
  }
}
