/**
 * etcd 3.4's membership replayed from its raft snapshot and log, and etcd's log entries turned into
 * tsetcd's.
 *
 * etcd 3.4 keeps its member table in the v2 store (its backend's `members` bucket is written but
 * never read, and `etcdctl snapshot restore` leaves the OLD cluster's members there), which lives
 * in the raft snapshot and changes through conf-change entries (context: the member as JSON,
 * `isPromote` for a learner's promotion) and v2 requests (`PUT /0/members/<id>/attributes` when a
 * member publishes its name and client URLs). `EtcdMembership` applies them as etcd's
 * ValidateConfigurationChange + applyConfChange + applyV2Request do: a change etcd refuses (a
 * removed id, an existing id, a peer URL in use, a promotion of a voter, a second learner) leaves
 * the table as it was.
 *
 * `toTsetcdEntry` rewrites an entry for tsetcd's log: normal entries are etcdserverpb
 * InternalRaftRequests byte for byte (tsetcd's encoding too), except etcd 3.4's v2 requests
 * (etcdserverpb.Request): a member publishing its attributes becomes tsetcd's ClusterMemberAttrSet,
 * any other (the cluster version) a request tsetcd applies as "not capable" (the index still
 * advances); conf changes get tsetcd's encoding with the member as membershippb.Member.
 */
import { InternalRaftRequest } from '../../proto/etcdserverpb/raft_internal.js';
import { ConfChangeType, EntryType, encodeConfChange } from '../../raft/index.js';
import { encodeMemberContext } from '../membership.js';
import { EtcdDirError } from './errors.js';
import type { EtcdMemberRecord, EtcdRaftSnapshot } from './etcd-snap.js';
import { EntryConfChange, EntryConfChangeV2, EntryNormal, type EtcdEntry } from './etcd-wal.js';
import { ProtoFields } from './protobuf.js';

/** etcd 3.4's limit on learners (membership.maxLearners). */
const MAX_LEARNERS = 1;

/** A raftpb.ConfChange with its context read. */
export interface EtcdConfChange {
  type: ConfChangeType;
  nodeId: bigint;
  /** From the JSON context (ConfigChangeContext for adds, Member for updates; none for removes). */
  peerUrls: string[];
  name: string;
  clientUrls: string[];
  isLearner: boolean;
  isPromote: boolean;
}

/** Decodes a raftpb.ConfChange {ID = 1, Type = 2, NodeID = 3, Context = 4}; throws on bad input. */
export function decodeEtcdConfChange(data: Buffer): EtcdConfChange {
  const f = new ProtoFields(data, 'raftpb.ConfChange');
  const type = f.num(2, 'raftpb.ConfChange');
  if (ConfChangeType[type] === undefined) throw new Error(`raftpb.ConfChange: unknown type ${type}`);
  const ctx = f.bytes(4, 'raftpb.ConfChange');
  let j: {
    peerURLs?: string[];
    name?: string;
    clientURLs?: string[];
    isLearner?: boolean;
    isPromote?: boolean;
  } = {};
  if (ctx.length > 0 && type !== ConfChangeType.RemoveNode) {
    // Only the fields below are read: the JSON "id" is a uint64 a JS number cannot hold (NodeID is used).
    j = JSON.parse(ctx.toString('utf8')) as typeof j;
  }
  return {
    type: type as ConfChangeType,
    nodeId: f.uint(3, 'raftpb.ConfChange'),
    peerUrls: j.peerURLs ?? [],
    name: j.name ?? '',
    clientUrls: j.clientURLs ?? [],
    isLearner: j.isLearner ?? false,
    isPromote: j.isPromote ?? false,
  };
}

/** An etcd 3.4 v2 request (etcdserverpb.Request {ID = 1, Method = 2, Path = 3, Val = 4}). */
export interface EtcdV2Request {
  id: bigint;
  method: string;
  path: string;
  val: string;
}

const V2_METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'QGET', 'SYNC', 'HEAD']);

/**
 * The v2 request in a normal entry's data, or undefined when the data is an InternalRaftRequest
 * (etcd 3.4 tells them apart the same way: a v2 request's field 2 is its method string, which no
 * InternalRaftRequest's field 2, a nested message, can be).
 */
export function decodeV2Request(data: Buffer): EtcdV2Request | undefined {
  let f: ProtoFields;
  try {
    f = new ProtoFields(data, 'etcdserverpb.Request');
    const method = f.bytes(2, 'etcdserverpb.Request').toString('latin1');
    if (!V2_METHODS.has(method)) return undefined;
    return {
      id: f.uint(1, 'etcdserverpb.Request'),
      method,
      path: f.bytes(3, 'etcdserverpb.Request').toString('utf8'),
      val: f.bytes(4, 'etcdserverpb.Request').toString('utf8'),
    };
  } catch {
    return undefined;
  }
}

const ATTRIBUTES_PATH = /^\/0\/members\/([0-9a-f]{1,16})\/attributes$/;

/** The member table as etcd 3.4 has it after applying its snapshot and log up to some index. */
export class EtcdMembership {
  readonly members = new Map<bigint, EtcdMemberRecord>();
  readonly removed = new Set<bigint>();

  constructor(snapshot?: Pick<EtcdRaftSnapshot, 'members' | 'removed'>) {
    for (const m of snapshot?.members ?? []) this.members.set(m.id, { ...m });
    for (const id of snapshot?.removed ?? []) this.removed.add(id);
  }

  /** Applies a committed entry (conf change or v2 attribute update; anything else changes nothing). */
  applyEntry(e: EtcdEntry, file: string): void {
    if (e.type === EntryConfChange) this.applyConfChange(confChangeOf(e, file));
    else if (e.type === EntryConfChangeV2) throw confChangeV2(e, file);
    else if (e.type === EntryNormal && e.data.length > 0) {
      const v2 = decodeV2Request(e.data);
      if (v2) this.applyV2(v2);
    }
  }

  /** etcd's ValidateConfigurationChange, then the change; returns whether it was applied. */
  applyConfChange(cc: EtcdConfChange): boolean {
    const id = cc.nodeId;
    if (this.removed.has(id)) return false;
    const existing = this.members.get(id);
    const urlsInUse = (except?: bigint) =>
      new Set([...this.members.values()].filter((m) => m.id !== except).flatMap((m) => m.peerUrls));
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode: {
        if (cc.isPromote) {
          if (!existing?.isLearner) return false;
          existing.isLearner = false;
          return true;
        }
        if (existing) return false;
        const inUse = urlsInUse();
        if (cc.peerUrls.some((u) => inUse.has(u))) return false;
        if (cc.isLearner && [...this.members.values()].filter((m) => m.isLearner).length + 1 > MAX_LEARNERS)
          return false;
        // etcd's v2 store keeps only the raft attributes of an added member; it publishes its name.
        this.members.set(id, {
          id,
          name: '',
          peerUrls: cc.peerUrls,
          clientUrls: [],
          isLearner: cc.isLearner,
        });
        return true;
      }
      case ConfChangeType.RemoveNode:
        if (!existing) return false;
        this.members.delete(id);
        this.removed.add(id);
        return true;
      case ConfChangeType.UpdateNode: {
        if (!existing) return false;
        const inUse = urlsInUse(id);
        if (cc.peerUrls.some((u) => inUse.has(u))) return false;
        existing.peerUrls = cc.peerUrls;
        return true;
      }
    }
  }

  /** A member publishing its name and client URLs (the only v2 request that changes the table). */
  applyV2(r: EtcdV2Request): void {
    const m = ATTRIBUTES_PATH.exec(r.path);
    if (r.method !== 'PUT' || !m) return;
    const member = this.members.get(BigInt(`0x${m[1]}`));
    if (!member) return; // removed meanwhile: etcd ignores it too
    const a = JSON.parse(r.val) as { name?: string; clientURLs?: string[] };
    member.name = a.name ?? '';
    member.clientUrls = a.clientURLs ?? [];
  }

  /** Members in id order. */
  list(): EtcdMemberRecord[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The raft configuration the table stands for. */
  confState(): { voters: bigint[]; learners: bigint[] } {
    const l = this.list();
    return {
      voters: l.filter((m) => !m.isLearner).map((m) => m.id),
      learners: l.filter((m) => m.isLearner).map((m) => m.id),
    };
  }
}

function confChangeOf(e: EtcdEntry, file: string): EtcdConfChange {
  try {
    return decodeEtcdConfChange(e.data);
  } catch (err) {
    throw new EtcdDirError(file, `entry ${e.index}: ${(err as Error).message}`);
  }
}

function confChangeV2(e: EtcdEntry, file: string): EtcdDirError {
  return new EtcdDirError(file, `entry ${e.index}: a ConfChangeV2 entry (etcd 3.4 never writes one)`);
}

/** A tsetcd log entry. */
export interface TsetcdEntry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** Rewrites etcd entry `e` for tsetcd's log (see the module comment); `file` names the WAL in errors. */
export function toTsetcdEntry(e: EtcdEntry, file: string): TsetcdEntry {
  if (e.type === EntryConfChangeV2) throw confChangeV2(e, file);
  if (e.type === EntryConfChange) {
    const cc = confChangeOf(e, file);
    const context =
      cc.type === ConfChangeType.RemoveNode
        ? new Uint8Array(0)
        : encodeMemberContext({
            id: cc.nodeId,
            name: cc.name,
            peerUrls: cc.peerUrls,
            clientUrls: cc.clientUrls,
            isLearner: cc.type === ConfChangeType.AddLearnerNode,
          });
    return {
      term: e.term,
      index: e.index,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: cc.type, nodeId: cc.nodeId, context }),
    };
  }
  if (e.type !== EntryNormal) throw new EtcdDirError(file, `entry ${e.index}: unknown entry type ${e.type}`);
  const v2 = e.data.length > 0 ? decodeV2Request(e.data) : undefined;
  if (!v2) return { term: e.term, index: e.index, type: EntryType.Normal, data: e.data };
  const attrs = ATTRIBUTES_PATH.exec(v2.path);
  let request: InternalRaftRequest;
  if (v2.method === 'PUT' && attrs) {
    const a = JSON.parse(v2.val) as { name?: string; clientURLs?: string[] };
    request = InternalRaftRequest.fromPartial({
      header: { ID: v2.id },
      clusterMemberAttrSet: {
        memberID: BigInt(`0x${attrs[1]}`),
        memberAttributes: { name: a.name ?? '', clientUrls: a.clientURLs ?? [] },
      },
    });
  } else {
    request = InternalRaftRequest.fromPartial({ header: { ID: v2.id } });
  }
  return {
    term: e.term,
    index: e.index,
    type: EntryType.Normal,
    data: InternalRaftRequest.encode(request).finish(),
  };
}
