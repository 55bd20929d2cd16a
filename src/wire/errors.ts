/**
 * The one table of wire errors: every error tsetcd returns to a client, with etcd 3.4's gRPC code and
 * exact message. Handlers throw these (or layer errors that `toGrpcError` maps here); the client layer,
 * when it exists, is to rebuild typed errors from this same table by exact (code, message).
 */
import { GrpcError, Status } from './status.js';

type Entry = readonly [Status, string];

const S = Status;
export const wireErrors = {
  emptyKey: [S.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
  // etcd 3.5's answer to an unknown sort order or target; etcd 3.4 crashes on such a range
  invalidSortOption: [S.INVALID_ARGUMENT, 'etcdserver: invalid sort option'],
  keyNotFound: [S.INVALID_ARGUMENT, 'etcdserver: key not found'],
  valueProvided: [S.INVALID_ARGUMENT, 'etcdserver: value is provided'],
  leaseProvided: [S.INVALID_ARGUMENT, 'etcdserver: lease is provided'],
  tooManyOps: [S.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'],
  duplicateKey: [S.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'],
  compacted: [S.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'],
  futureRev: [S.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'],
  noSpace: [S.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'],

  leaseNotFound: [S.NOT_FOUND, 'etcdserver: requested lease not found'],
  leaseExist: [S.FAILED_PRECONDITION, 'etcdserver: lease already exists'],
  leaseTTLTooLarge: [S.OUT_OF_RANGE, 'etcdserver: too large lease TTL'],
  watchCanceled: [S.CANCELLED, 'etcdserver: watch canceled'],

  memberExist: [S.FAILED_PRECONDITION, 'etcdserver: member ID already exist'],
  peerURLExist: [S.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'],
  memberNotEnoughStarted: [
    S.FAILED_PRECONDITION,
    'etcdserver: re-configuration failed due to not enough started members',
  ],
  memberBadURLs: [S.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'],
  memberNotFound: [S.NOT_FOUND, 'etcdserver: member not found'],
  memberNotLearner: [S.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'],
  learnerNotReady: [
    S.FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ],
  tooManyLearners: [S.FAILED_PRECONDITION, 'etcdserver: too many learner members in cluster'],

  requestTooLarge: [S.INVALID_ARGUMENT, 'etcdserver: request is too large'],
  tooManyRequests: [S.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'],

  rootUserNotExist: [S.FAILED_PRECONDITION, 'etcdserver: root user does not exist'],
  rootRoleNotExist: [S.FAILED_PRECONDITION, 'etcdserver: root user does not have root role'],
  userAlreadyExist: [S.FAILED_PRECONDITION, 'etcdserver: user name already exists'],
  userEmpty: [S.INVALID_ARGUMENT, 'etcdserver: user name is empty'],
  userNotFound: [S.FAILED_PRECONDITION, 'etcdserver: user name not found'],
  roleAlreadyExist: [S.FAILED_PRECONDITION, 'etcdserver: role name already exists'],
  roleNotFound: [S.FAILED_PRECONDITION, 'etcdserver: role name not found'],
  roleEmpty: [S.INVALID_ARGUMENT, 'etcdserver: role name is empty'],
  authFailed: [S.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password'],
  permissionDenied: [S.PERMISSION_DENIED, 'etcdserver: permission denied'],
  roleNotGranted: [S.FAILED_PRECONDITION, 'etcdserver: role is not granted to the user'],
  permissionNotGranted: [S.FAILED_PRECONDITION, 'etcdserver: permission is not granted to the role'],
  authNotEnabled: [S.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'],
  invalidAuthToken: [S.UNAUTHENTICATED, 'etcdserver: invalid auth token'],
  invalidAuthMgmt: [S.INVALID_ARGUMENT, 'etcdserver: invalid auth management'],
  authOldRevision: [S.INVALID_ARGUMENT, 'etcdserver: revision of auth store is old'],
  // etcd 3.4 has no wire error for this one: its v3rpc passes the auth package's text through as Unknown.
  noPasswordUser: [S.UNKNOWN, 'auth: authentication failed, password was given for no password user'],
  // etcd 3.4's Maintenance service (Hash, HashKV, Defragment, Snapshot) returns the auth package's
  // errors untranslated: UNKNOWN with the auth package's own texts.
  rawPermissionDenied: [S.UNKNOWN, 'auth: permission denied'],
  rawUserEmpty: [S.UNKNOWN, 'auth: user name is empty'],
  rawUserNotFound: [S.UNKNOWN, 'auth: user not found'],
  rawInvalidAuthToken: [S.UNKNOWN, 'auth: invalid auth token'],

  noLeader: [S.UNAVAILABLE, 'etcdserver: no leader'],
  notLeader: [S.FAILED_PRECONDITION, 'etcdserver: not leader'],
  leaderChanged: [S.UNAVAILABLE, 'etcdserver: leader changed'],
  notCapable: [S.UNAVAILABLE, 'etcdserver: not capable'],
  stopped: [S.UNAVAILABLE, 'etcdserver: server stopped'],
  timeout: [S.UNAVAILABLE, 'etcdserver: request timed out'],
  // etcd's ErrTimeoutLeaderTransfer, which 3.4's MoveLeader returns without a gRPC mapping (code Unknown)
  leaderTransferTimeout: [S.UNKNOWN, 'etcdserver: request timed out, leader transfer took too long'],
  timeoutDueToLeaderFail: [
    S.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to previous leader failure',
  ],
  timeoutDueToConnectionLost: [
    S.UNAVAILABLE,
    'etcdserver: request timed out, possibly due to connection lost',
  ],
  timeoutWaitAppliedIndex: [
    S.UNAVAILABLE,
    'etcdserver: request timed out, waiting for the applied index took too long',
  ],
  unhealthy: [S.UNAVAILABLE, 'etcdserver: unhealthy cluster'],
  corrupt: [S.DATA_LOSS, 'etcdserver: corrupt cluster'],
  notSupportedForLearner: [S.UNAVAILABLE, 'etcdserver: rpc not supported for learner'],
  badLeaderTransferee: [S.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'],
} as const satisfies Record<string, Entry>;

export type WireErrorName = keyof typeof wireErrors;

/** An error carrying one of the table's (code, message) pairs; `kind` names the row. */
export class EtcdError extends GrpcError {
  override name = 'EtcdError';
  constructor(readonly kind: WireErrorName) {
    const [code, message] = wireErrors[kind];
    super(code, message);
  }
}

/** Shorthand: `throw etcdError('emptyKey')`. */
export function etcdError(kind: WireErrorName): EtcdError {
  return new EtcdError(kind);
}
