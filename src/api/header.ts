/** The response header every service fills the way etcd's v3rpc does. */
import type { ResponseHeader } from '../proto/etcdserverpb/rpc.js';
import type { Member } from '../server/index.js';

/**
 * Fills `h`'s cluster id, member id and raft term from `member` (and the revision with the store's
 * when it is 0). Returns the header (a new one for undefined).
 */
export function fillHeader(member: Member, h: ResponseHeader | undefined): ResponseHeader {
  const out = h ?? { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n };
  out.clusterId = member.clusterId;
  out.memberId = member.memberId;
  out.raftTerm = BigInt(member.term);
  if (out.revision === 0n) out.revision = BigInt(member.store.rev);
  return out;
}
