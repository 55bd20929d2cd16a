/**
 * Leases, as etcd's lessor: a lease has an id, a granted TTL and a set of attached keys.
 *
 * Two kinds of operation, kept apart on purpose:
 * - Applied (deterministic, from the log, the same on every member): grant, revoke, attach/detach
 *   as keys are put and deleted, and checkpoints (a lease's remaining TTL as the leader saw it).
 *   These change the persisted lease table.
 * - Primary-only (time-based, not in the log): expiries, renew (keep-alive), remaining TTL, finding
 *   the leases that expired and the ones due for a checkpoint. Only the leader's lessor is primary,
 *   and only after it applied the first entry of its term (`promote`); a member that is not the
 *   leader keeps no clock for its leases (`demote`). Expiry is acted on by proposing a revoke
 *   through the log, so every member deletes the same keys at the same revision.
 *
 * A new primary gives every lease its remaining TTL (the last checkpoint's, else the full TTL) plus
 * an election timeout, as etcd's Promote does: the old leader's clock is lost with it, and a lease
 * never expires early — a keep-alive answered by any leader was either applied (the full TTL counts
 * again) or cleared the checkpoint through the log before it was answered. Checkpoints make sure
 * that repeated elections do not restart a long lease's full TTL each time.
 *
 * Time comes from an injected monotonic clock in milliseconds (performance.now), so tests control it.
 */
import { etcdError } from '../wire/errors.js';

/** etcd's upper bound on a lease TTL, in seconds. */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;

/** etcd's default lease checkpoint interval (5 minutes). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60_000;

/** etcd's largest checkpoint batch (one raft entry). */
export const MAX_CHECKPOINT_BATCH = 1000;

/** etcd's lease revoke rate: a new primary spreads piled-up expiries to 3/4 of it per second. */
const REVOKE_RATE_PER_SECOND = 1000;

/** One lease. `keys` holds keys as latin1 strings (a lossless byte encoding). */
export interface Lease {
  readonly id: bigint;
  /** Granted TTL in seconds (after the minimum-TTL rule). */
  readonly ttl: number;
  /** Remaining TTL in seconds from the last applied checkpoint; 0 = none (the full TTL counts). */
  remainingTtl: number;
  /** When it expires, on the injected clock (ms); Infinity while this lessor is not primary. */
  expiryMs: number;
  /** When the primary checkpoints it next (ms); undefined = not scheduled. */
  checkpointAtMs: number | undefined;
  /** The primary proposed a checkpoint for it that is not applied yet. */
  checkpointPending: boolean;
  readonly keys: Set<string>;
  revoking: boolean;
}

/** Where applied lease changes are persisted; writes are buffered by the caller's commit order. */
export interface LeasePersistence {
  load(): { id: bigint; ttl: number; remainingTtl: number }[];
  put(id: bigint, ttl: number, remainingTtl: number): void;
  delete(id: bigint): void;
}

export interface LessorOptions {
  /** etcd's minimum TTL: ceil(1.5 election timeouts); smaller grants are raised to it. */
  minTtlSeconds: number;
  /** Whether the primary checkpoints remaining TTLs (etcd --experimental-enable-lease-checkpoint). */
  checkpointing: boolean;
  /** How often a lease is checkpointed (etcd: 5 minutes). */
  checkpointIntervalMs?: number;
  /** Told of grants and revokes (applied, on every member) and renewals (primary only); for metrics. */
  observer?: LessorObserver;
}

/** What a lessor reports as it happens (etcd's lease metrics). */
export interface LessorObserver {
  /** A lease was granted with this TTL (after raising it to the minimum), in seconds. */
  granted(ttlSeconds: number): void;
  /** A lease was revoked; `expired` when this lessor, as primary, had found it expired. */
  revoked(expired: boolean): void;
  /** The primary renewed a lease (a keep-alive). */
  renewed(): void;
}

/** What the primary does on a keep-alive. */
export type RenewResult =
  | { kind: 'renewed'; ttl: number }
  /** The lease carries a checkpoint: clear it through the log first, then call `renew` again. */
  | { kind: 'clearCheckpoint' }
  | { kind: 'notFound' };

export class Lessor {
  private readonly leases = new Map<bigint, Lease>();
  /** key (latin1) -> lease id, for detaching on overwrite and delete. */
  private readonly keyLease = new Map<string, bigint>();
  private primary = false;
  readonly minTtlSeconds: number;
  readonly checkpointing: boolean;
  readonly checkpointIntervalMs: number;
  private readonly observer: LessorObserver | undefined;

  constructor(
    private readonly persistence: LeasePersistence,
    private readonly now: () => number,
    opts: LessorOptions,
  ) {
    this.minTtlSeconds = opts.minTtlSeconds;
    this.checkpointing = opts.checkpointing;
    this.checkpointIntervalMs = opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.observer = opts.observer;
    for (const { id, ttl, remainingTtl } of persistence.load()) {
      this.leases.set(id, {
        id,
        ttl,
        remainingTtl,
        expiryMs: Number.POSITIVE_INFINITY,
        checkpointAtMs: undefined,
        checkpointPending: false,
        keys: new Set(),
        revoking: false,
      });
    }
  }

  get size(): number {
    return this.leases.size;
  }

  get isPrimary(): boolean {
    return this.primary;
  }

  lookup(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  ids(): bigint[] {
    return [...this.leases.keys()];
  }

  // ---- applied ----

  /** Grants a lease; throws leaseExist or leaseTTLTooLarge. Returns the TTL actually granted. */
  grant(id: bigint, ttlSeconds: number): number {
    if (ttlSeconds > MAX_LEASE_TTL_SECONDS) throw etcdError('leaseTTLTooLarge');
    if (this.leases.has(id)) throw etcdError('leaseExist');
    const ttl = Math.max(ttlSeconds, this.minTtlSeconds);
    const lease: Lease = {
      id,
      ttl,
      remainingTtl: 0,
      expiryMs: this.primary ? this.now() + ttl * 1000 : Number.POSITIVE_INFINITY,
      checkpointAtMs: undefined,
      checkpointPending: false,
      keys: new Set(),
      revoking: false,
    };
    this.leases.set(id, lease);
    this.scheduleCheckpoint(lease);
    this.persistence.put(id, ttl, 0);
    this.observer?.granted(ttl);
    return ttl;
  }

  /** Removes a lease and returns its keys (latin1), sorted, for the caller to delete in one txn. */
  revoke(id: bigint): string[] {
    const lease = this.leases.get(id);
    if (!lease) throw etcdError('leaseNotFound');
    this.leases.delete(id);
    this.persistence.delete(id);
    const keys = [...lease.keys].sort();
    for (const k of keys) this.keyLease.delete(k);
    this.observer?.revoked(lease.revoking);
    return keys;
  }

  /**
   * Records a lease's remaining TTL as the primary saw it (0 clears it). It does not move the expiry
   * here: the next primary starts the lease from it. An unknown lease is ignored, as etcd does.
   */
  checkpoint(id: bigint, remainingTtl: number): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    lease.remainingTtl = Math.max(0, remainingTtl);
    lease.checkpointPending = false;
    this.persistence.put(id, lease.ttl, lease.remainingTtl);
    if (!this.primary) return;
    // A checkpoint older than a keep-alive (a late one) understates the lease: correct it soon.
    if (lease.remainingTtl > 0 && lease.expiryMs - this.now() > (lease.remainingTtl + 1) * 1000) {
      lease.checkpointAtMs = this.now();
    } else {
      this.scheduleCheckpoint(lease);
    }
  }

  /** A checkpoint proposal failed: the leases in it are no longer waiting for it. */
  checkpointFailed(ids: bigint[]): void {
    for (const id of ids) {
      const l = this.leases.get(id);
      if (l) l.checkpointPending = false;
    }
  }

  /** Records that `key` now carries `lease` (0n = none), detaching it from any previous lease. */
  onPut(key: Buffer, lease: bigint): void {
    if (lease === 0n && this.keyLease.size === 0) return;
    const k = key.toString('latin1');
    const old = this.keyLease.get(k);
    if (old === lease) return;
    if (old !== undefined) {
      this.leases.get(old)?.keys.delete(k);
      this.keyLease.delete(k);
    }
    if (lease !== 0n) {
      const l = this.leases.get(lease);
      if (l) {
        l.keys.add(k);
        this.keyLease.set(k, lease);
      }
    }
  }

  /** Records that `key` was deleted. */
  onDelete(key: Buffer): void {
    if (this.keyLease.size === 0) return;
    const k = key.toString('latin1');
    const old = this.keyLease.get(k);
    if (old === undefined) return;
    this.leases.get(old)?.keys.delete(k);
    this.keyLease.delete(k);
  }

  // ---- primary (leader) only ----

  /**
   * Becomes primary: every lease expires its remaining TTL (checkpointed, else full) plus `extendMs`
   * from now. When many leases would expire in the same second, later ones are pushed back so that
   * at most 3/4 of the revoke rate expire per second (etcd's pile-up rule); never earlier.
   */
  promote(extendMs: number): void {
    this.primary = true;
    const now = this.now();
    for (const l of this.leases.values()) {
      l.expiryMs = now + extendMs + (l.remainingTtl > 0 ? l.remainingTtl : l.ttl) * 1000;
      l.revoking = false;
      l.checkpointAtMs = undefined;
      this.scheduleCheckpoint(l);
    }
    if (this.leases.size < REVOKE_RATE_PER_SECOND) return;
    const sorted = [...this.leases.values()].sort((a, b) => a.expiryMs - b.expiryMs);
    const perSecond = (3 * REVOKE_RATE_PER_SECOND) / 4;
    let windowStart = sorted[0]!.expiryMs;
    let windowEnd = windowStart + 1000;
    let inWindow = 0;
    for (const l of sorted) {
      if (l.expiryMs > windowEnd) {
        windowStart = l.expiryMs;
        windowEnd = windowStart + 1000;
        inWindow = 1;
        continue;
      }
      inWindow++;
      if (inWindow <= perSecond) continue;
      // Spread the excess: the n-th lease of a crowded window moves to n/perSecond seconds after its start.
      const delayed = windowStart + (1000 * inWindow) / perSecond;
      windowEnd = delayed;
      if (delayed > l.expiryMs) l.expiryMs = delayed;
    }
  }

  /**
   * Takes over the lease clock of the lessor this one replaces (the store under the same member was
   * swapped: Defragment): a primary stays primary, and each lease both know keeps its expiry, so
   * a defragment neither stalls keep-alives until the next election nor extends any lease. A lease
   * only this one knows starts its full TTL.
   */
  adoptClockOf(old: Lessor): void {
    if (!old.primary) return;
    this.primary = true;
    const now = this.now();
    for (const [id, l] of this.leases) {
      const before = old.leases.get(id);
      l.expiryMs = before !== undefined ? before.expiryMs : now + l.ttl * 1000;
      this.scheduleCheckpoint(l);
    }
  }

  /** No longer the leader: leases stop expiring here until this member leads again. */
  demote(): void {
    this.primary = false;
    for (const l of this.leases.values()) {
      l.expiryMs = Number.POSITIVE_INFINITY;
      l.checkpointAtMs = undefined;
      l.checkpointPending = false;
      l.revoking = false;
    }
  }

  /**
   * A keep-alive on the primary: the full TTL from now. A lease carrying a checkpoint needs it
   * cleared through the log first (etcd does the same), or a new leader would start the lease from
   * the stale remaining TTL and expire it before the TTL the client was just promised.
   */
  renew(id: bigint): RenewResult {
    const l = this.leases.get(id);
    if (!l || l.revoking || l.expiryMs <= this.now()) return { kind: 'notFound' };
    // Also while a checkpoint is on its way: it was taken before this keep-alive and would undo it.
    if (l.remainingTtl > 0 || l.checkpointPending) return { kind: 'clearCheckpoint' };
    l.expiryMs = this.now() + l.ttl * 1000;
    this.scheduleCheckpoint(l);
    this.observer?.renewed();
    return { kind: 'renewed', ttl: l.ttl };
  }

  /** Remaining whole seconds (etcd truncates), or -1 when there is no such lease. */
  remainingSeconds(id: bigint): number {
    const l = this.leases.get(id);
    if (!l) return -1;
    return Math.max(0, Math.floor((l.expiryMs - this.now()) / 1000));
  }

  /** Leases past their expiry and not yet being revoked; marks them as being revoked. */
  takeExpired(max: number): bigint[] {
    const out: bigint[] = [];
    if (!this.primary) return out;
    const now = this.now();
    for (const l of this.leases.values()) {
      if (out.length >= max) break;
      if (!l.revoking && l.expiryMs <= now) {
        l.revoking = true;
        out.push(l.id);
      }
    }
    return out;
  }

  /** A revoke proposal failed: let the expiry loop try again. */
  unmarkRevoking(id: bigint): void {
    const l = this.leases.get(id);
    if (l) l.revoking = false;
  }

  /**
   * Leases due for a checkpoint, with their remaining TTL rounded up (never less than the truth).
   * A lease whose remaining TTL is still its full TTL needs none (or a clearing one when it carries
   * a stale checkpoint). Each taken lease is scheduled again one interval later, so a lost proposal
   * is retried.
   */
  takeDueCheckpoints(max: number): { id: bigint; remainingTtl: number }[] {
    const out: { id: bigint; remainingTtl: number }[] = [];
    if (!this.primary || !this.checkpointing) return out;
    const now = this.now();
    for (const l of this.leases.values()) {
      if (out.length >= max) break;
      if (l.checkpointAtMs === undefined || l.checkpointAtMs > now || l.revoking) continue;
      l.checkpointAtMs = undefined;
      const remaining = Math.ceil((l.expiryMs - now) / 1000);
      if (remaining > 0 && remaining < l.ttl) {
        out.push({ id: l.id, remainingTtl: remaining });
        l.checkpointPending = true;
      } else if (remaining >= l.ttl && l.remainingTtl > 0) {
        // Renewed since a (late) checkpoint was recorded: clear it, the full TTL counts.
        out.push({ id: l.id, remainingTtl: 0 });
        l.checkpointPending = true;
      }
      this.scheduleCheckpoint(l);
    }
    return out;
  }

  /** etcd checkpoints a lease only when it lives longer than one interval from now. */
  private scheduleCheckpoint(l: Lease): void {
    if (!this.primary || !this.checkpointing) return;
    const remaining = l.remainingTtl > 0 ? l.remainingTtl : l.ttl;
    if (remaining * 1000 <= this.checkpointIntervalMs) return;
    const at = this.now() + this.checkpointIntervalMs;
    if (l.checkpointAtMs === undefined || l.checkpointAtMs > at) l.checkpointAtMs = at;
  }
}
