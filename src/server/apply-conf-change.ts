/**
 * A committed membership change applied to the member table, in the entry's write txn. The rest of
 * what a conf change does (the transport's peers, answering the waiting MemberAdd/Remove/...,
 * stopping a removed member) happens around it in the member, after the txn.
 */
import { type ConfChange, ConfChangeType } from '../raft/index.js';
import { decodeMemberContext, type Membership } from './membership.js';

/** Changes `membership` as `cc` says (its context carries the member record for adds and updates). */
export function applyConfChangeToMembership(membership: Membership, cc: ConfChange): void {
  const ctx = decodeMemberContext(cc.context);
  switch (cc.type) {
    case ConfChangeType.AddNode:
    case ConfChangeType.AddLearnerNode: {
      const record = ctx ?? membership.get(cc.nodeId);
      if (record) {
        membership.add({ ...record, id: cc.nodeId, isLearner: cc.type === ConfChangeType.AddLearnerNode });
      }
      break;
    }
    case ConfChangeType.RemoveNode:
      membership.remove(cc.nodeId);
      break;
    case ConfChangeType.UpdateNode:
      if (ctx) membership.updatePeerUrls(cc.nodeId, ctx.peerUrls);
      break;
  }
}
