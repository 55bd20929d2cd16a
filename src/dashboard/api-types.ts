/**
 * The JSON the dashboard's HTTP API answers, shared by the server (src/dashboard) and the page
 * (src/dashboard/ui). Types only. 64-bit ids and revisions travel as decimal strings, keys and values
 * as base64 (`...B64`) next to a UTF-8 rendering for display.
 */

/** One member as the last poll saw it. */
export interface MemberView {
  /** Member id, hex as etcdctl prints it. */
  id: string;
  name: string;
  clientURL: string;
  isLearner: boolean;
  /** 'leader' | 'follower' | 'learner' | 'unknown' (unreachable). */
  role: 'leader' | 'follower' | 'learner' | 'unknown';
  /** False when Status or /metrics did not answer in time. */
  reachable: boolean;
  /** 'healthy', or why not: 'unreachable: ...', 'no leader', 'alarm: NOSPACE', ... */
  health: string;
  version: string;
  term: string;
  raftIndex: string;
  appliedIndex: string;
  dbSize: number;
  dbSizeInUse: number;
  alarms: string[];
  /** Status's errors field. */
  errors: string[];
  /** Requests per second over the last poll interval, all gRPC methods. */
  rps: number;
  /** Requests per second by gRPC method over the last poll interval. */
  rpsByMethod: Record<string, number>;
  /** etcd_server_leader_changes_seen_total on this member. */
  leaderChangesSeen: number;
}

/** A change seen on the cluster: a new leader, an election (term rose), no leader. */
export interface TimelineEvent {
  /** Wall-clock ms. */
  at: number;
  kind: 'leader' | 'election' | 'no-leader' | 'member-down' | 'member-up';
  term: string;
  /** Member id (hex) concerned: the new leader, or the member that went down or up. */
  member: string;
  text: string;
}

/** The whole picture, sent on every poll. */
export interface ClusterState {
  /** Wall-clock ms of the poll. */
  at: number;
  clusterId: string;
  /** Hex id of the leader most members agree on ('' when none). */
  leader: string;
  revision: string;
  members: MemberView[];
  timeline: TimelineEvent[];
  /** Requests per second per member over time: `t` in wall-clock seconds, one series per member id. */
  series: { t: number[]; byMember: Record<string, number[]> };
  writesEnabled: boolean;
  /** The last poll's failure, if the cluster could not be asked at all. */
  error: string;
}

/** One entry of the key browser. */
export interface TreeEntryView {
  key: string;
  keyB64: string;
  dir: boolean;
}

export interface KeysPage {
  prefixB64: string;
  /** Keys under the prefix (all levels). */
  count: string;
  entries: TreeEntryView[];
  more: boolean;
  revision: string;
}

export interface KeyVersionView {
  key: string;
  keyB64: string;
  value: string;
  valueB64: string;
  /** False when the value is not valid UTF-8 (show it as base64). */
  utf8: boolean;
  createRevision: string;
  modRevision: string;
  version: string;
  lease: string;
}

export interface KeyDetail {
  keyB64: string;
  versions: KeyVersionView[];
  end: 'created' | 'compacted' | 'page' | 'absent';
  revision: string;
}

export interface LeaseView {
  id: string;
  /** Decimal id. */
  idDec: string;
  ttl: string;
  grantedTtl: string;
  keys: string[];
}

export interface LeasesPage {
  leases: LeaseView[];
  /** More leases exist than were detailed. */
  more: boolean;
  total: number;
}

export interface WatchEventView {
  type: 'PUT' | 'DELETE';
  key: string;
  keyB64: string;
  value: string;
  modRevision: string;
  version: string;
}

export interface ApiError {
  error: string;
}
