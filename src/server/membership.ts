/**
 * The cluster's members as every member knows them: ids, names, peer and client URLs, learner or
 * voter, and the ids removed for good (whose messages are refused). Changes arrive through the log
 * (conf changes, and the attributes each member publishes when it starts), and every change is an
 * MVCC auxiliary record written in the write txn of the entry that made it, so a restart sees the
 * table exactly as of the applied index.
 */
import type { MvccStore } from '../mvcc/index.js';
import { Member as MemberPb } from '../proto/membershippb/membership.js';

export interface MemberRecord {
  id: bigint;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

const MEMBER_PREFIX = Buffer.from('member/');
const REMOVED_PREFIX = Buffer.from('removed/');

function keyOf(prefix: Buffer, id: bigint): Buffer {
  const key = Buffer.alloc(prefix.length + 8);
  prefix.copy(key, 0);
  key.writeBigUInt64BE(id, prefix.length);
  return key;
}

/** The conf-change context: the member as membershippb.Member. */
export function encodeMemberContext(m: MemberRecord): Uint8Array {
  return MemberPb.encode({
    ID: m.id,
    raftAttributes: { peerUrls: m.peerUrls, isLearner: m.isLearner },
    memberAttributes: { name: m.name, clientUrls: m.clientUrls },
  }).finish();
}

export function decodeMemberContext(b: Uint8Array): MemberRecord | undefined {
  if (b.byteLength === 0) return undefined;
  const m = MemberPb.decode(b);
  return {
    id: m.ID,
    name: m.memberAttributes?.name ?? '',
    peerUrls: m.raftAttributes?.peerUrls ?? [],
    clientUrls: m.memberAttributes?.clientUrls ?? [],
    isLearner: m.raftAttributes?.isLearner ?? false,
  };
}

export class Membership {
  private readonly members = new Map<bigint, MemberRecord>();
  private readonly removed = new Set<bigint>();
  /** Whether the table is in the store yet; the first change writes all of it. */
  private persistedAll: boolean;

  /**
   * @param initial the bootstrap configuration; records persisted by earlier changes replace it.
   */
  constructor(
    initial: { id: bigint; name: string; peerUrls: string[] }[],
    private readonly store: Pick<MvccStore, 'auxRecords' | 'setAux'>,
  ) {
    const persisted = store.auxRecords(MEMBER_PREFIX);
    this.persistedAll = persisted.length > 0;
    if (persisted.length === 0) {
      for (const m of initial) {
        this.members.set(m.id, {
          id: m.id,
          name: m.name,
          peerUrls: [...m.peerUrls],
          clientUrls: [],
          isLearner: false,
        });
      }
    }
    for (const { key, value } of persisted) {
      const id = key.readBigUInt64BE(MEMBER_PREFIX.length);
      const r = JSON.parse(value.toString('utf8')) as Omit<MemberRecord, 'id'>;
      this.members.set(id, { id, ...r });
    }
    for (const { key } of store.auxRecords(REMOVED_PREFIX))
      this.removed.add(key.readBigUInt64BE(REMOVED_PREFIX.length));
  }

  /** Members in id order, as MemberList shows them. */
  list(): MemberRecord[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Ids removed for good, ascending. */
  removedIds(): bigint[] {
    return [...this.removed].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  get(id: bigint): MemberRecord | undefined {
    return this.members.get(id);
  }

  isRemoved(id: bigint): boolean {
    return this.removed.has(id);
  }

  /** The member whose peer URLs include `url`, if any. */
  byPeerUrl(url: string): MemberRecord | undefined {
    for (const m of this.members.values()) if (m.peerUrls.includes(url)) return m;
    return undefined;
  }

  // The following apply changes from the log; call them inside the entry's write txn.

  /** A member published its name and client URLs. */
  setAttributes(id: bigint, name: string, clientUrls: string[]): void {
    const m = this.members.get(id);
    if (!m) return; // not (or no longer) a member: nothing to record
    m.name = name;
    m.clientUrls = [...clientUrls];
    this.persist(m);
  }

  /** AddNode / AddLearnerNode, or a learner's promotion (AddNode for an existing learner). */
  add(r: MemberRecord): void {
    const existing = this.members.get(r.id);
    if (existing) {
      existing.isLearner = r.isLearner;
      this.persist(existing);
      return;
    }
    const m = { ...r, peerUrls: [...r.peerUrls], clientUrls: [...r.clientUrls] };
    this.members.set(m.id, m);
    this.persist(m);
  }

  remove(id: bigint): void {
    if (!this.persistedAll) {
      this.persistedAll = true;
      for (const other of this.members.values()) if (other.id !== id) this.persist(other);
    }
    this.members.delete(id);
    this.removed.add(id);
    this.store.setAux(keyOf(MEMBER_PREFIX, id), undefined);
    this.store.setAux(keyOf(REMOVED_PREFIX, id), Buffer.alloc(0));
  }

  updatePeerUrls(id: bigint, peerUrls: string[]): void {
    const m = this.members.get(id);
    if (!m) return;
    m.peerUrls = [...peerUrls];
    this.persist(m);
  }

  private persist(m: MemberRecord): void {
    if (!this.persistedAll) {
      this.persistedAll = true;
      for (const other of this.members.values()) if (other !== m) this.persist(other);
    }
    const { id: _id, ...rest } = m;
    this.store.setAux(keyOf(MEMBER_PREFIX, m.id), Buffer.from(JSON.stringify(rest), 'utf8'));
  }
}
