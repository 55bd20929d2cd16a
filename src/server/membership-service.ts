/**
 * The Cluster service's writes: MemberAdd/Remove/Update/Promote. Each runs etcd's checks
 * (reconfig-checks.ts) on what this member sees, proposes the conf change and answers once it is
 * applied here. A follower hands MemberPromote to the leader, which alone knows the learner's
 * progress, and answers once the promotion is applied here too.
 */
import type { Clock } from '../pkg/clock.js';
import type { Member as MemberInfo } from '../proto/etcdserverpb/rpc.js';
import { type ConfChange, ConfChangeType } from '../raft/index.js';
import { etcdError, type WireErrorName } from '../wire/errors.js';
import { computeMemberId } from './ids.js';
import { encodeMemberContext, type Membership } from './membership.js';
import {
  checkAdd,
  checkPromote,
  checkRemove,
  checkUpdate,
  learnerReady,
  type ReconfigView,
} from './reconfig-checks.js';
import type { Signal } from './signal.js';

export interface MembershipServiceHost {
  clock: Clock;
  selfId: bigint;
  initialClusterToken: string;
  strictReconfigCheck: boolean;
  requestTimeoutMs: number;
  stopped(): boolean;
  membership(): Membership;
  /** Peer link facts (the transport's stats): connected now, and since when (wall ms, 0 = down). */
  link(id: bigint): { connected: boolean; activeSince: number } | undefined;
  isLeader(): boolean;
  /** Raft's match index per member (on the leader), and the commit index. */
  progress(): Map<bigint, number>;
  commitIndex(): number;
  proposeConfChange(cc: ConfChange): Promise<void>;
  /** Hands the promotion to the leader (peer HTTP). */
  askLeaderToPromote(id: bigint): Promise<void>;
  /** Notified after every applied conf change. */
  confChanged: Signal;
}

export class MembershipService {
  constructor(private readonly host: MembershipServiceHost) {}

  /** MemberAdd: a new voter or learner with these peer URLs; answers once the change is applied. */
  async add(peerUrls: string[], isLearner: boolean): Promise<MemberInfo> {
    this.refuse(checkAdd(this.view(), peerUrls, isLearner));
    const { clock, initialClusterToken } = this.host;
    const id = computeMemberId(peerUrls, initialClusterToken, Math.floor(clock.wallNow() / 1000));
    const record = { id, name: '', peerUrls, clientUrls: [], isLearner };
    await this.host.proposeConfChange({
      type: isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
      nodeId: id,
      context: encodeMemberContext(record),
    });
    return { ID: id, name: '', peerURLs: peerUrls, clientURLs: [], isLearner };
  }

  async remove(id: bigint): Promise<void> {
    this.refuse(checkRemove(this.view(), id));
    await this.host.proposeConfChange({
      type: ConfChangeType.RemoveNode,
      nodeId: id,
      context: new Uint8Array(0),
    });
  }

  async update(id: bigint, peerUrls: string[]): Promise<void> {
    this.refuse(checkUpdate(this.view(), id, peerUrls));
    const m = this.host.membership().get(id)!;
    await this.host.proposeConfChange({
      type: ConfChangeType.UpdateNode,
      nodeId: id,
      context: encodeMemberContext({ ...m, peerUrls }),
    });
  }

  /** MemberPromote: only a learner that has caught up (90% of the leader's log) becomes a voter. */
  async promote(id: bigint): Promise<void> {
    this.refuse(checkPromote(this.view(), id));
    const { host } = this;
    if (!host.isLeader()) {
      await host.askLeaderToPromote(id);
      // Answer once the promotion is applied here too, as MemberAdd/Remove do.
      await host.confChanged.until(
        () => host.stopped() || host.membership().get(id)?.isLearner === false,
        host.requestTimeoutMs,
        () => etcdError('timeout'),
      );
      if (host.stopped()) throw etcdError('timeout');
      return;
    }
    const progress = host.progress();
    if (!learnerReady(progress.get(host.selfId) ?? host.commitIndex(), progress.get(id) ?? 0)) {
      throw etcdError('learnerNotReady');
    }
    const m = host.membership().get(id)!;
    await host.proposeConfChange({
      type: ConfChangeType.AddNode,
      nodeId: id,
      context: encodeMemberContext({ ...m, isLearner: false }),
    });
  }

  private refuse(kind: WireErrorName | undefined): void {
    if (this.host.stopped()) throw etcdError('stopped');
    if (kind) throw etcdError(kind);
  }

  private view(): ReconfigView {
    const { host } = this;
    return {
      selfId: host.selfId,
      members: host.membership().list(),
      connected: (id) => host.link(id)?.connected ?? false,
      activeSince: (id) => host.link(id)?.activeSince ?? 0,
      now: host.clock.wallNow(),
      strict: host.strictReconfigCheck,
    };
  }
}
