/**
 * Typed client errors, rebuilt from the server's own wire table (src/wire/errors.ts) by exact
 * (gRPC code, message): one class per table row, created from the table at load, so the server and the
 * client can never disagree about a text. Never by substring: a status whose (code, message) pair is
 * not in the table stays a plain `EtcdError` with `kind` undefined (e.g. a transport UNAVAILABLE).
 */
import type { ServiceError } from '@grpc/grpc-js';
import { Status, type WireErrorName, wireErrors } from '../wire/index.js';

/** Any error a call of this client rejects with. `code` is the gRPC status code. */
export class EtcdError extends Error {
  override name = 'EtcdError';
  /** The row of the wire table whose (code, message) this error has exactly, or undefined. */
  readonly kind: WireErrorName | undefined;
  constructor(
    readonly code: Status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.kind = kindOf(code, message);
  }
}

/** The constructor of one table row's class. */
export type EtcdErrorClass = new (options?: { cause?: unknown }) => EtcdError;

function className(kind: string): string {
  return `${kind[0]!.toUpperCase()}${kind.slice(1)}Error`;
}

function makeClass(kind: WireErrorName): EtcdErrorClass {
  const [code, message] = wireErrors[kind];
  const name = className(kind);
  // A named class per row, so `instanceof errors.compacted` and stack traces both say what it is.
  const cls = {
    [name]: class extends EtcdError {
      override name = name;
      constructor(options?: { cause?: unknown }) {
        super(code, message, options);
      }
    },
  }[name]!;
  return cls;
}

/** One class per wire-table row: `err instanceof errors.compacted`. */
export const errors = Object.fromEntries(
  (Object.keys(wireErrors) as WireErrorName[]).map((k) => [k, makeClass(k)]),
) as Record<WireErrorName, EtcdErrorClass>;

const byCodeAndMessage = new Map<string, WireErrorName>();
for (const k of Object.keys(wireErrors) as WireErrorName[]) {
  const [code, message] = wireErrors[k];
  byCodeAndMessage.set(`${code}\u0000${message}`, k);
}

/** The table row with exactly this (code, message), if any. */
export function kindOf(code: number, message: string): WireErrorName | undefined {
  return byCodeAndMessage.get(`${code}\u0000${message}`);
}

/** True when `e` is the table row `kind` (exact (code, message) match). */
export function isEtcdError(e: unknown, kind: WireErrorName): e is EtcdError {
  return e instanceof EtcdError && e.kind === kind;
}

/**
 * Turns a grpc-js ServiceError (or anything thrown by a call) into an EtcdError: the row's class
 * when (code, details) is a row of the table, else a plain EtcdError with the same code and text.
 */
export function fromGrpc(e: unknown): EtcdError {
  if (e instanceof EtcdError) return e;
  const se = e as Partial<ServiceError>;
  if (typeof se?.code !== 'number') {
    return new EtcdError(Status.UNKNOWN, e instanceof Error ? e.message : String(e), { cause: e });
  }
  const message = se.details ?? se.message ?? '';
  const kind = kindOf(se.code, message);
  if (kind !== undefined) return new errors[kind]({ cause: e });
  return new EtcdError(se.code, message, { cause: e });
}

/** A watch the server cancelled because its start revision was compacted away. */
export class WatchCompactedError extends EtcdError {
  override name = 'WatchCompactedError';
  constructor(
    /** The compact revision the server reported; resume from here or later. */
    readonly compactRevision: bigint,
  ) {
    super(wireErrors.compacted[0], wireErrors.compacted[1]);
  }
}

/** A watch the server cancelled for another reason (its cancel_reason is the message). */
export class WatchCanceledError extends EtcdError {
  override name = 'WatchCanceledError';
  constructor(reason: string) {
    // etcd sends "etcdserver: permission denied" as the reason when auth revokes a watch.
    const code = reason === wireErrors.permissionDenied[1] ? Status.PERMISSION_DENIED : Status.CANCELLED;
    super(code, reason === '' ? wireErrors.watchCanceled[1] : reason);
  }
}

/** A lease this client kept alive is gone: it expired, was revoked, or keep-alives failed past its TTL. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  constructor(
    readonly leaseId: bigint,
    readonly reason: 'expired' | 'revoked' | 'keepalive-timeout' | 'closed',
  ) {
    super(`lease ${leaseId.toString(16)} lost: ${reason}`);
  }
}
