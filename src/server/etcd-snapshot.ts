/**
 * The database of Maintenance.Snapshot in etcd's format: a consistent lmdb copy of the store
 * (MvccStore.backupTo) rewritten as the bbolt file etcd 3.4's backend would be for the same state —
 * the `key` records byte for byte (the same encoding), meta (consistent index, compaction marks),
 * leases (granted and checkpointed TTLs), members and removed ids, cluster version, auth state.
 *
 * Why always bbolt: `etcdctl snapshot save` is how every etcd backup runbook, operator and tool
 * (etcdctl/etcdutl snapshot status and restore, backup sidecars) takes a backup, and all of them read
 * the file as bbolt; an lmdb file there is useless to them and locks users in. `tsetcd snapshot
 * restore` reads both formats, so nothing is lost: what tsetcd keeps beyond etcd's buckets (the
 * member identity) is replaced by a restore anyway. The cost is the rewrite (measured in
 * docs/BENCHMARKS.md: about as long as the copy itself), paid only by a client-requested snapshot;
 * snapshots between members stay lmdb copies.
 */
import { join } from 'node:path';
import { type EtcdAuth, type EtcdLease, writeEtcdBackend } from '../bbolt/index.js';
import { openStoreCopy } from '../mvcc/index.js';
import { MvccLeaseStore } from './lease-store.js';
import { Membership } from './membership.js';

/**
 * Rewrites the store copy in `copyDir` (`<copyDir>/data.mdb`) as an etcd bbolt file `out`; returns
 * `out`. `clusterVersion` goes to the `cluster` bucket.
 */
export async function writeEtcdSnapshot(
  copyDir: string,
  out: string,
  clusterVersion: string,
): Promise<string> {
  const copy = openStoreCopy(copyDir);
  try {
    const aux = {
      auxRecords: (prefix: Buffer) => copy.auxRecords(prefix),
      setAux: () => {
        throw new Error('a store copy is read-only');
      },
    };
    const leases: EtcdLease[] = new MvccLeaseStore(aux).load();
    const membership = new Membership([], aux);
    await writeEtcdBackend(
      out,
      {
        records: copy.records(),
        consistentIndex: copy.consistentIndex,
        scheduledCompactRev: copy.scheduledCompactRev,
        finishedCompactRev: copy.finishedCompactRev,
        leases,
        members: membership.list(),
        removedMemberIds: membership.removedIds(),
        clusterVersion,
        auth: authOfStore(aux),
      },
      { sync: false },
    ); // a scratch file: streamed, then deleted
    return out;
  } finally {
    await copy.close();
  }
}

/**
 * The auth state as the auth store keeps it (src/server/auth: `auth/enabled`, `auth/revision`,
 * `authUsers/<name>`, `authRoles/<name>` holding authpb encodings), as etcd's buckets hold it.
 */
function authOfStore(aux: { auxRecords(prefix: Buffer): { key: Buffer; value: Buffer }[] }): EtcdAuth {
  const one = (key: string) => aux.auxRecords(Buffer.from(key)).find((r) => r.key.toString() === key)?.value;
  const enabled = one('auth/enabled');
  const revision = one('auth/revision');
  const named = (prefix: string) =>
    aux.auxRecords(Buffer.from(prefix)).map((r) => ({ name: r.key.subarray(prefix.length), value: r.value }));
  return {
    enabled: enabled !== undefined && enabled.length === 1 && enabled[0] === 1,
    revision: revision !== undefined && revision.length === 8 ? revision.readBigUInt64BE(0) : 1n,
    users: named('authUsers/'),
    roles: named('authRoles/'),
  };
}

/** `<dir>/lmdb` for the copy, `<dir>/db` for the bbolt file. */
export function etcdSnapshotPaths(dir: string): { copyDir: string; file: string } {
  return { copyDir: join(dir, 'lmdb'), file: join(dir, 'db') };
}
