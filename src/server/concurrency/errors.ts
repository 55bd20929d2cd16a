/**
 * The concurrency layer's error catalog. etcd 3.4 runs its Lock and Election services on its
 * in-process client and returns the client package's plain Go errors, which grpc-go sends as
 * UNKNOWN with the error's text; a plain `Error` reaches `toGrpcError` the same way, so these texts
 * arrive exactly as etcd's do. The one tsetcd-only error (the waiter bound) carries its own code.
 */
import { EtcdError } from '../../wire/errors.js';
import { GrpcError, Status } from '../../wire/status.js';

/** An etcd concurrency-package error: sent as gRPC UNKNOWN with exactly `message`, as etcd does. */
export class ConcurrencyError extends Error {
  /** clientv3/concurrency ErrElectionNotLeader: Proclaim found the leader key gone or re-created. */
  static readonly notLeader = 'election: not leader';
  /** clientv3/concurrency ErrElectionNoLeader: Leader found no key under the election's prefix. */
  static readonly noLeader = 'election: no leader';
  /** clientv3/concurrency ErrSessionExpired: Lock's own key vanished (its lease ended) while waiting. */
  static readonly sessionExpired = 'mutex: session is expired';
  /** v3election ErrMissingLeaderKey: Proclaim or Resign without a `leader`. */
  static readonly missingLeaderKey = '"leader" field must be provided';

  constructor(message: string) {
    super(message);
    this.name = 'ConcurrencyError';
  }
}

/** tsetcd's bound `waitersPerNameMax` was reached (etcd has no such bound). */
export function tooManyWaiters(name: string, max: number): GrpcError {
  return new GrpcError(
    Status.RESOURCE_EXHAUSTED,
    `tsetcd: too many waiters on ${JSON.stringify(name)} (at most ${max})`,
  );
}

/** What a wait fails with when the call is cancelled (etcd returns Go's context error). */
export function canceled(): GrpcError {
  return new GrpcError(Status.CANCELLED, 'context canceled');
}

/**
 * How an error of the member reaches a Lock or Election caller. etcd's services call the server
 * through its own client, which turns every known server error into a plain Go error that grpc-go
 * then sends as UNKNOWN with the same text (so a missing lease is UNKNOWN "etcdserver: requested
 * lease not found" here, NOT_FOUND on the KV service). Other errors pass unchanged.
 */
export function viaClient(err: unknown): unknown {
  if (err instanceof EtcdError) return new ConcurrencyError(err.message);
  return err;
}
