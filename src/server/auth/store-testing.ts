/** Test support for the auth store: an in-memory backend, and applying requests as the member does. */
import { type DeepPartial, InternalRaftRequest } from '../../proto/etcdserverpb/raft_internal.js';
import { type AuthBackend, AuthStore } from './store.js';
import { SimpleTokens } from './tokens.js';

/** The aux-record part of the MVCC store, in memory. */
export class MemoryBackend implements AuthBackend {
  readonly records = new Map<string, Buffer>();
  setAux(key: Buffer, value: Buffer | undefined): void {
    if (value === undefined) this.records.delete(key.toString('latin1'));
    else this.records.set(key.toString('latin1'), value);
  }
  auxRecords(prefix: Buffer): { key: Buffer; value: Buffer }[] {
    const p = prefix.toString('latin1');
    return [...this.records.entries()]
      .filter(([k]) => k.startsWith(p))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => ({ key: Buffer.from(k, 'latin1'), value: v }));
  }
}

export function newStore(backend = new MemoryBackend()): AuthStore {
  const tokens = new SimpleTokens({ waitApplied: async () => true, authRevision: () => store.revision }, 300);
  const store: AuthStore = new AuthStore(backend, tokens);
  return store;
}

let index = 1;
/** Applies one request as `user` (root by default) at the current auth revision, like the member. */
export function apply(s: AuthStore, fields: DeepPartial<InternalRaftRequest>, user = 'root'): unknown {
  const req = InternalRaftRequest.fromPartial({
    ...fields,
    header: { ID: 1n, username: user, authRevision: s.revision },
  });
  s.checkApply(req, () => undefined);
  return s.apply(req, index++);
}
