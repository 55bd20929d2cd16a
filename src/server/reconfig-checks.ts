/**
 * etcd's checks before a membership change, as pure functions of what the member sees: the member
 * table, which voters it can reach now, and since when each link has been up. Each returns the
 * wire-error row name that refuses the change, or undefined when the change may go ahead.
 */
import type { WireErrorName } from '../wire/errors.js';
import type { MemberRecord } from './membership.js';

/** How long every voter must have been connected before membership changes (etcd's HealthInterval). */
export const HEALTH_INTERVAL_MS = 5000;
/** etcd allows one learner at a time. */
export const MAX_LEARNERS = 1;
/** A learner is ready for promotion once its log holds this share of the leader's (etcd: 90%). */
export const LEARNER_READY_FRACTION = 0.9;

/** What the checks see of the cluster. */
export interface ReconfigView {
  selfId: bigint;
  members: readonly MemberRecord[];
  /** Whether the link to member `id` is up now (this member always counts). */
  connected(id: bigint): boolean;
  /** When the link to `id` came up (wall ms), 0 when it is down. */
  activeSince(id: bigint): number;
  /** Wall-clock now, ms. */
  now: number;
  /** --strict-reconfig-check. */
  strict: boolean;
}

/** A peer URL etcd accepts: http(s), with a port, no path. */
export function validPeerUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.port !== '' &&
      (url.pathname === '/' || url.pathname === '')
    );
  } catch {
    return false;
  }
}

function isStarted(v: ReconfigView, id: bigint): boolean {
  return id === v.selfId || v.connected(id);
}

/** Voters this member can reach now (itself included): etcd's "started members". */
function startedVoters(v: ReconfigView): number {
  return v.members.filter((m) => !m.isLearner && isStarted(v, m.id)).length;
}

/** Voters (this member counts) whose link has been up since `since` (etcd's numConnectedSince). */
function votersConnectedSince(v: ReconfigView, since: number): { active: number; voters: number } {
  const voters = v.members.filter((m) => !m.isLearner);
  let active = 0;
  for (const m of voters) {
    if (m.id === v.selfId) {
      active++;
      continue;
    }
    const t = v.activeSince(m.id);
    if (t !== 0 && t <= since) active++;
  }
  return { active, voters: voters.length };
}

/** MemberAdd's checks, in etcd's order. */
export function checkAdd(v: ReconfigView, peerUrls: string[], isLearner: boolean): WireErrorName | undefined {
  if (peerUrls.length === 0 || !peerUrls.every(validPeerUrl)) return 'memberBadURLs';
  for (const u of peerUrls) if (v.members.some((m) => m.peerUrls.includes(u))) return 'peerURLExist';
  if (isLearner && v.members.filter((m) => m.isLearner).length >= MAX_LEARNERS) return 'tooManyLearners';
  if (!isLearner && v.strict) {
    const voters = v.members.filter((m) => !m.isLearner).length + 1;
    const started = startedVoters(v);
    // As etcd: a lone member may always add a second one (how a cluster is rebuilt from a backup).
    const loneGrowing = started === 1 && voters === 2;
    if (!loneGrowing && started < Math.floor(voters / 2) + 1) return 'memberNotEnoughStarted';
  }
  // As etcd: only while every voter has been reachable for a while ("unhealthy cluster").
  if (v.strict) {
    const { active, voters } = votersConnectedSince(v, v.now - HEALTH_INTERVAL_MS);
    if (active !== voters) return 'unhealthy';
  }
  return undefined;
}

/** MemberRemove's checks, in etcd's order. */
export function checkRemove(v: ReconfigView, id: bigint): WireErrorName | undefined {
  const m = v.members.find((x) => x.id === id);
  if (!m) return 'memberNotFound';
  if (m.isLearner || !v.strict) return undefined;
  const voters = v.members.filter((x) => !x.isLearner && x.id !== id).length;
  const started = startedVoters(v) - (isStarted(v, id) ? 1 : 0);
  if (started < Math.floor(voters / 2) + 1) return 'memberNotEnoughStarted';
  // As etcd: removing a member that is down is safe; otherwise the active quorum must survive.
  const down = id !== v.selfId && v.activeSince(id) === 0;
  if (!down) {
    const { active, voters: all } = votersConnectedSince(v, v.now - HEALTH_INTERVAL_MS);
    if (active - 1 < 1 + Math.floor((all - 1) / 2)) return 'unhealthy';
  }
  return undefined;
}

/** MemberUpdate's checks, in etcd's order. */
export function checkUpdate(v: ReconfigView, id: bigint, peerUrls: string[]): WireErrorName | undefined {
  if (!v.members.some((x) => x.id === id)) return 'memberNotFound';
  if (peerUrls.length === 0 || !peerUrls.every(validPeerUrl)) return 'memberBadURLs';
  for (const u of peerUrls) {
    const other = v.members.find((m) => m.peerUrls.includes(u));
    if (other && other.id !== id) return 'peerURLExist';
  }
  return undefined;
}

/** MemberPromote's checks that any member can make (the readiness check needs the leader). */
export function checkPromote(v: ReconfigView, id: bigint): WireErrorName | undefined {
  const m = v.members.find((x) => x.id === id);
  if (!m) return 'memberNotFound';
  if (!m.isLearner) return 'memberNotLearner';
  return undefined;
}

/** Whether a learner's log holds enough of the leader's to be promoted (etcd's isLearnerReady). */
export function learnerReady(leaderMatch: number, learnerMatch: number): boolean {
  return learnerMatch >= leaderMatch * LEARNER_READY_FRACTION;
}
