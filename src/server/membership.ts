/**
 * The cluster's members as every member knows them: ids, names and peer URLs from the bootstrap
 * configuration, and the attributes each member publishes through the log once it runs (its name
 * and client URLs, etcd's "published {Name:... ClientURLs:...} to cluster"). Published attributes
 * are MVCC auxiliary records, written with the applied index of the entry that set them.
 */
import type { MvccStore } from '../mvcc/index.js';

export interface MemberRecord {
  id: bigint;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

const PREFIX = Buffer.from('member/');

export class Membership {
  private readonly members = new Map<bigint, MemberRecord>();

  constructor(
    initial: { id: bigint; name: string; peerUrls: string[] }[],
    private readonly store: MvccStore,
  ) {
    for (const m of initial) {
      this.members.set(m.id, {
        id: m.id,
        name: m.name,
        peerUrls: [...m.peerUrls],
        clientUrls: [],
        isLearner: false,
      });
    }
    for (const { key, value } of store.auxRecords(PREFIX)) {
      const id = key.readBigUInt64BE(PREFIX.length);
      const attrs = JSON.parse(value.toString('utf8')) as { name: string; clientUrls: string[] };
      const m = this.members.get(id);
      if (m) {
        m.name = attrs.name;
        m.clientUrls = attrs.clientUrls;
      }
    }
  }

  /** Members in id order, as MemberList shows them. */
  list(): MemberRecord[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: bigint): MemberRecord | undefined {
    return this.members.get(id);
  }

  /** Applies a published ClusterMemberAttrSet; call inside the entry's write txn. */
  setAttributes(id: bigint, name: string, clientUrls: string[]): void {
    const m = this.members.get(id);
    if (!m) return; // not a member (removed meanwhile): nothing to record
    m.name = name;
    m.clientUrls = [...clientUrls];
    const key = Buffer.alloc(PREFIX.length + 8);
    PREFIX.copy(key, 0);
    key.writeBigUInt64BE(id, PREFIX.length);
    this.store.setAux(key, Buffer.from(JSON.stringify({ name, clientUrls }), 'utf8'));
  }
}
