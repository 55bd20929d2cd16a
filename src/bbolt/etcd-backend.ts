/**
 * etcd 3.4's backend layout inside a bbolt file (mvcc/backend, mvcc/kvstore.go, lease/lessor.go,
 * etcdserver/api/membership/store.go, auth/store.go):
 *
 * | bucket            | key                                            | value                              |
 * | ----------------- | ---------------------------------------------- | ---------------------------------- |
 * | `key`             | revision: 8-byte BE main, `_`, 8-byte BE sub,  | mvccpb.KeyValue (a tombstone: the  |
 * |                   | plus `t` for a tombstone (17 or 18 bytes)      | KeyValue with only its key)        |
 * | `meta`            | `consistent_index`                             | 8-byte BE raft index               |
 * | `meta`            | `scheduledCompactRev`, `finishedCompactRev`    | 17-byte revision (main, `_`, sub)  |
 * | `lease`           | 8-byte BE lease id                             | leasepb.Lease {ID, TTL, RemainingTTL} |
 * | `members`         | member id in hex                               | JSON {id, peerURLs, name, ...}     |
 * | `members_removed` | member id in hex                               | `removed`                          |
 * | `cluster`         | `clusterVersion`                               | e.g. `3.4.0`                       |
 * | `auth`            | `authEnabled` (0/1), `authRevision` (8-byte BE)|                                    |
 * | `authUsers`, `authRoles` | user / role name                        | authpb.User / authpb.Role          |
 *
 * This module reads them (and etcdctl's `snapshot status` numbers) from a BboltReader; it knows
 * nothing of how tsetcd stores them.
 */
import { crc32c } from '../pkg/index.js';
import type { BboltReader } from './reader.js';
import { type BboltWriteResult, writeBbolt } from './writer.js';

/** The revision length of a key-bucket key (a tombstone adds one byte). */
export const ETCD_REV_BYTES = 17;

/** `etcdctl snapshot status`'s numbers. */
export interface EtcdSnapshotStatus {
  /** CRC-32C over every bucket's name and every key and value in it, in file order. */
  hash: number;
  /** Main revision of the last key in the `key` bucket (0 when empty). */
  revision: number;
  /** Keys in all buckets. */
  totalKey: number;
  /** bbolt's tx.Size(): pages in use times page size. */
  totalSize: number;
}

/** A lease as etcd persists it. */
export interface EtcdLease {
  id: bigint;
  /** Granted TTL, seconds. */
  ttl: number;
  /** Checkpointed remaining TTL, seconds (0: none). */
  remainingTtl: number;
}

/**
 * etcd 3.4's snapshot status (snapshot/v3_snapshot.go Status): walks every bucket, hashing names,
 * keys and values. Every page is read, so a damaged file is refused here as `tx.Check()` refuses it.
 */
export function etcdSnapshotStatus(db: BboltReader): EtcdSnapshotStatus {
  let hash = 0;
  let revision = 0;
  let totalKey = 0;
  const root = db.root();
  for (const top of root.entries()) {
    if (!top.isBucket) db.fail(`cannot get hash of bucket ${top.key.toString('latin1')}`);
    hash = crc32c(top.key, hash);
    const isKey = top.key.equals(KEY_BUCKET);
    for (const e of root.openNested(top).entries()) {
      hash = crc32c(e.key, hash);
      if (!e.isBucket) hash = crc32c(e.value, hash);
      if (isKey) revision = revMain(db, e.key);
      totalKey++;
    }
  }
  return { hash: hash >>> 0, revision, totalKey, totalSize: db.size };
}

const KEY_BUCKET = Buffer.from('key');

/** The main revision of a key-bucket key; refuses a key that is no revision. */
export function revMain(db: BboltReader, k: Buffer): number {
  if (k.length !== ETCD_REV_BYTES && !(k.length === ETCD_REV_BYTES + 1 && k[ETCD_REV_BYTES] === 0x74)) {
    db.fail(`bucket key: key of ${k.length} bytes is not a revision`);
  }
  if (k[8] !== 0x5f) db.fail('bucket key: revision key without its "_" separator');
  const main = k.readBigInt64BE(0);
  if (main < 0n || main > BigInt(Number.MAX_SAFE_INTEGER))
    db.fail(`bucket key: revision ${main} out of range`);
  return Number(main);
}

/** The store-level facts of an etcd backend's `meta` bucket. */
export interface EtcdMeta {
  consistentIndex: number;
  /** Revision of the last compaction started, or undefined if never compacted. */
  scheduledCompactRev: number | undefined;
  /** Revision of the last compaction finished, or undefined. */
  finishedCompactRev: number | undefined;
}

/** Reads the `meta` bucket; refuses a file without `key` and `meta` buckets (not an etcd backend). */
export function etcdMeta(db: BboltReader): EtcdMeta {
  const names = db
    .root()
    .bucketNames()
    .map((n) => n.toString('latin1'));
  for (const need of ['key', 'meta']) {
    if (!names.includes(need))
      db.fail(`not an etcd backend: no "${need}" bucket (buckets: ${names.join(', ') || 'none'})`);
  }
  const meta = db.bucket('meta')!;
  const u64 = (name: string, len: number): number | undefined => {
    const v = meta.get(name);
    if (v === undefined) return undefined;
    if (v.length !== len) db.fail(`bucket meta: ${name} has ${v.length} bytes, want ${len}`);
    const n = v.readBigUInt64BE(0);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) db.fail(`bucket meta: ${name} ${n} out of range`);
    return Number(n);
  };
  return {
    consistentIndex: u64('consistent_index', 8) ?? 0,
    scheduledCompactRev: u64('scheduledCompactRev', ETCD_REV_BYTES),
    finishedCompactRev: u64('finishedCompactRev', ETCD_REV_BYTES),
  };
}

/** Every lease of the `lease` bucket (none when it is absent). */
export function etcdLeases(db: BboltReader): EtcdLease[] {
  const bucket = db.bucket('lease');
  if (!bucket) return [];
  const out: EtcdLease[] = [];
  for (const e of bucket.entries()) {
    if (e.key.length !== 8) db.fail(`bucket lease: key of ${e.key.length} bytes`);
    const fields = decodeVarintFields(db, e.value);
    const id = e.key.readBigInt64BE(0);
    if (fields.get(1) !== undefined && fields.get(1) !== id)
      db.fail(`bucket lease: lease ${id} stores ID ${fields.get(1)}`);
    out.push({ id, ttl: Number(fields.get(2) ?? 0n), remainingTtl: Number(fields.get(3) ?? 0n) });
  }
  return out;
}

/**
 * The auth buckets: the enabled flag, the auth revision, and users and roles by name with their
 * authpb.User / authpb.Role encodings (byte for byte what etcd stores).
 */
export interface EtcdAuth {
  enabled: boolean;
  /** 1 when the bucket has none (a fresh etcd's). */
  revision: bigint;
  users: { name: Buffer; value: Buffer }[];
  roles: { name: Buffer; value: Buffer }[];
}

/** Reads the `auth`, `authUsers` and `authRoles` buckets (all optional). */
export function etcdAuth(db: BboltReader): EtcdAuth {
  const bucket = db.bucket('auth');
  const enabled = bucket?.get('authEnabled');
  const rev = bucket?.get('authRevision');
  const entries = (name: string) =>
    [...(db.bucket(name)?.entries() ?? [])].map(({ key, value }) => ({
      name: Buffer.from(key),
      value: Buffer.from(value),
    }));
  return {
    enabled: enabled !== undefined && enabled.length === 1 && enabled[0] === 1,
    revision: rev !== undefined && rev.length === 8 ? Buffer.from(rev).readBigUInt64BE(0) : 1n,
    users: entries('authUsers'),
    roles: entries('authRoles'),
  };
}

/** Decodes a protobuf message of varint fields only (leasepb.Lease); refuses anything else. */
function decodeVarintFields(db: BboltReader, b: Buffer): Map<number, bigint> {
  const out = new Map<number, bigint>();
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (i >= b.length) db.fail('bucket lease: truncated varint');
      const x = b[i++]!;
      v |= BigInt(x & 0x7f) << shift;
      if ((x & 0x80) === 0) return BigInt.asIntN(64, v);
    }
    return db.fail('bucket lease: varint too long');
  };
  while (i < b.length) {
    const tag = Number(varint());
    if ((tag & 7) !== 0) db.fail(`bucket lease: field ${tag >> 3} has wire type ${tag & 7}, want varint`);
    out.set(tag >> 3, varint());
  }
  return out;
}

/** A member as etcd's `members` bucket holds it. */
export interface EtcdMember {
  id: bigint;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** What an etcd backend file is written from. */
export interface EtcdBackendSource {
  /** The `key` bucket: revision keys and mvccpb.KeyValue bytes, ascending (etcd's encoding). */
  records: Iterable<{ key: Uint8Array; value: Uint8Array }>;
  consistentIndex: number;
  scheduledCompactRev?: number;
  finishedCompactRev?: number;
  leases: EtcdLease[];
  members: EtcdMember[];
  removedMemberIds: bigint[];
  /** `cluster/clusterVersion`, e.g. "3.4.0". */
  clusterVersion: string;
  /** The auth state (absent: auth disabled at revision 1, no users or roles, a fresh etcd's). */
  auth?: EtcdAuth;
}

/**
 * Writes `src` as etcd 3.4's backend would hold it (the table at the top of this file): the
 * buckets an etcd 3.4 member creates, the auth state given (else auth disabled at auth revision 1,
 * a fresh etcd's), no alarms.
 * The result is what `etcdctl snapshot status|restore` and an etcd member read.
 */
export async function writeEtcdBackend(
  file: string,
  src: EtcdBackendSource,
  opts: { sync?: boolean } = {},
): Promise<BboltWriteResult> {
  const u64 = (n: number | bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
  };
  const rev = (n: number) => {
    const b = Buffer.alloc(ETCD_REV_BYTES);
    b.writeBigUInt64BE(BigInt(n), 0);
    b[8] = 0x5f;
    return b;
  };
  const meta: { key: Buffer; value: Buffer }[] = [
    { key: Buffer.from('consistent_index'), value: u64(src.consistentIndex) },
  ];
  if (src.finishedCompactRev !== undefined)
    meta.push({ key: Buffer.from('finishedCompactRev'), value: rev(src.finishedCompactRev) });
  if (src.scheduledCompactRev !== undefined)
    meta.push({ key: Buffer.from('scheduledCompactRev'), value: rev(src.scheduledCompactRev) });
  const byKey = <T extends { key: Buffer }>(xs: T[]) => xs.sort((a, b) => Buffer.compare(a.key, b.key));
  const leases = byKey(src.leases.map((l) => ({ key: i64be(l.id), value: encodeLease(l) })));
  const hexId = (id: bigint) => Buffer.from(id.toString(16));
  const members = byKey(
    src.members.map((m) => ({
      key: hexId(m.id),
      // Go's json.Marshal of membership.Member: id as a number, omitempty on the optional fields.
      value: Buffer.from(
        `{"id":${m.id.toString()},"peerURLs":${JSON.stringify(m.peerUrls)}${m.isLearner ? ',"isLearner":true' : ''}${
          m.name ? `,"name":${JSON.stringify(m.name)}` : ''
        }${m.clientUrls.length > 0 ? `,"clientURLs":${JSON.stringify(m.clientUrls)}` : ''}}`,
      ),
    })),
  );
  const removed = byKey(
    src.removedMemberIds.map((id) => ({ key: hexId(id), value: Buffer.from('removed') })),
  );
  return writeBbolt(
    file,
    [
      { name: 'alarm', entries: [] },
      {
        name: 'auth',
        entries: [
          // etcd writes the flag once auth was ever enabled or disabled: 1 or 0
          ...(src.auth
            ? [{ key: Buffer.from('authEnabled'), value: Buffer.from([src.auth.enabled ? 1 : 0]) }]
            : []),
          { key: Buffer.from('authRevision'), value: u64(src.auth?.revision ?? 1n) },
        ],
      },
      {
        name: 'authRoles',
        entries: byKey((src.auth?.roles ?? []).map((r) => ({ key: r.name, value: r.value }))),
      },
      {
        name: 'authUsers',
        entries: byKey((src.auth?.users ?? []).map((u) => ({ key: u.name, value: u.value }))),
      },
      {
        name: 'cluster',
        entries: [{ key: Buffer.from('clusterVersion'), value: Buffer.from(src.clusterVersion) }],
      },
      { name: 'key', entries: src.records },
      { name: 'lease', entries: leases },
      { name: 'members', entries: members },
      { name: 'members_removed', entries: removed },
      { name: 'meta', entries: meta },
    ],
    opts,
  );
}

function i64be(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}

/** leasepb.Lease {ID = 1, TTL = 2, RemainingTTL = 3} (int64 varints; zero fields omitted). */
function encodeLease(l: EtcdLease): Buffer {
  const out: number[] = [];
  const field = (tag: number, v: bigint) => {
    if (v === 0n) return;
    out.push(tag);
    let u = BigInt.asUintN(64, v);
    while (u >= 0x80n) {
      out.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    out.push(Number(u));
  };
  field(0x08, l.id);
  field(0x10, BigInt(l.ttl));
  field(0x18, BigInt(l.remainingTtl));
  return Buffer.from(out);
}
