/**
 * An etcd backend (bbolt: a snapshot file or a member's member/snap/db) made into a new tsetcd
 * store — the one path both `tsetcd snapshot restore` and the import of an etcd data dir take:
 * every record of the `key` bucket byte for byte (etcd's revision keys and KeyValues are tsetcd's
 * encoding), the consistent index and compaction marks of `meta`, and beside them as the store's
 * auxiliary records: the member table and this member's identity (given by the caller: new ones for
 * a restore, etcd's own for an import), the leases, the auth state (flag, revision, users and roles
 * as authpb bytes, so etcd's bcrypt hashes still log in) and the active alarms.
 *
 * Throws BboltError (the file is damaged) or StoreImportError (a `key` record tsetcd cannot take).
 */
import type { BboltReader } from '../../bbolt/index.js';
import { etcdAuth, etcdLeases, etcdMeta } from '../../bbolt/index.js';
import { importStore } from '../../mvcc/index.js';
import { MvccLeaseStore } from '../lease-store.js';
import { type MemberRecord, Membership } from '../membership.js';
import { ProtoFields } from './protobuf.js';

/** Who the imported member is and the cluster it belongs to. */
export interface ImportCluster {
  members: MemberRecord[];
  /** Ids removed for good. */
  removed: bigint[];
  memberId: bigint;
  clusterId: bigint;
}

/** What an import wrote. */
export interface BackendImportResult {
  consistentIndex: number;
  /** The store's revision as MvccStore.open computes it (an empty store is at revision 1). */
  revision: number;
  records: number;
  leases: number;
  alarms: number;
  auth: { enabled: boolean; users: number; roles: number };
}

/** The records of a store being built, collected as MvccStore.setAux would write them. */
class AuxCollector {
  readonly records = new Map<string, { key: Buffer; value: Buffer }>();
  auxRecords(): { key: Buffer; value: Buffer }[] {
    return [];
  }
  setAux(key: Buffer, value: Buffer | undefined): void {
    if (value === undefined) this.records.delete(key.toString('hex'));
    else this.records.set(key.toString('hex'), { key, value });
  }
}

/** Writes the store of etcd backend `db` into `storeDir` (which must hold none yet). */
export async function importEtcdBackend(
  db: BboltReader,
  storeDir: string,
  cluster: ImportCluster,
): Promise<BackendImportResult> {
  const meta = etcdMeta(db);
  const auth = etcdAuth(db);
  const leases = etcdLeases(db);
  const aux = new AuxCollector();
  const membership = new Membership([], aux);
  for (const m of cluster.members) membership.add(m); // the first add persists the whole table
  for (const id of cluster.removed) membership.remove(id);
  aux.setAux(
    Buffer.from('identity'),
    Buffer.from(
      JSON.stringify({ memberId: cluster.memberId.toString(16), clusterId: cluster.clusterId.toString(16) }),
    ),
  );
  const table = new MvccLeaseStore(aux);
  for (const l of leases) table.put(l.id, l.ttl, l.remainingTtl);
  // The auth store's records (src/server/auth/store.ts): the same authpb encodings etcd stores.
  const rev = Buffer.alloc(8);
  rev.writeBigUInt64BE(auth.revision);
  aux.setAux(Buffer.from('auth/enabled'), Buffer.from([auth.enabled ? 1 : 0]));
  aux.setAux(Buffer.from('auth/revision'), rev);
  for (const u of auth.users) aux.setAux(Buffer.concat([Buffer.from('authUsers/'), u.name]), u.value);
  for (const r of auth.roles) aux.setAux(Buffer.concat([Buffer.from('authRoles/'), r.name]), r.value);
  // Alarms (etcdserverpb.AlarmMember {MemberID = 1, Alarm = 2} as the key), as src/server/alarms.ts keeps them.
  let alarms = 0;
  for (const e of db.bucket('alarm')?.entries() ?? []) {
    let f: ProtoFields;
    try {
      f = new ProtoFields(e.key, 'AlarmMember');
    } catch (err) {
      return db.fail(`bucket alarm: ${(err as Error).message}`);
    }
    const key = Buffer.alloc(6 + 12);
    key.write('alarm/', 0, 'latin1');
    key.writeBigUInt64BE(f.uint(1, 'AlarmMember'), 6);
    key.writeInt32BE(Number(f.uint(2, 'AlarmMember') & 0x7fffffffn), 14);
    aux.setAux(key, Buffer.alloc(0));
    alarms++;
  }
  const keys = db.bucket('key')!;
  const { records, maxRev } = await importStore(storeDir, {
    records: keys.entries(),
    consistentIndex: meta.consistentIndex,
    scheduledCompactRev: meta.scheduledCompactRev,
    finishedCompactRev: meta.finishedCompactRev,
    aux: [...aux.records.values()],
  });
  return {
    consistentIndex: meta.consistentIndex,
    revision: Math.max(1, maxRev, meta.scheduledCompactRev ?? 0),
    records,
    leases: leases.length,
    alarms,
    auth: { enabled: auth.enabled, users: auth.users.length, roles: auth.roles.length },
  };
}
