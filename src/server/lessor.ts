/**
 * Leases, as etcd's lessor: a lease has an id, a granted TTL and a set of attached keys.
 *
 * Two kinds of operation, kept apart on purpose:
 * - Applied (deterministic, from the log, the same on every member): grant, revoke, attach/detach
 *   as keys are put and deleted. These change the persisted lease table.
 * - Leader-local (time-based, not in the log): renew (keep-alive), remaining TTL, and finding the
 *   leases that expired. Expiry is acted on by proposing a revoke through the log, so every member
 *   deletes the same keys at the same revision. A lease is never revoked before its TTL has passed.
 *
 * Time comes from an injected monotonic clock in milliseconds, so tests control it.
 */
import { etcdError } from '../api/errors.js';

/** etcd's upper bound on a lease TTL, in seconds. */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;

/** One lease. `keys` holds keys as latin1 strings (a lossless byte encoding). */
export interface Lease {
  readonly id: bigint;
  /** Granted TTL in seconds (after the minimum-TTL rule). */
  readonly ttl: number;
  /** When it expires, on the injected clock (ms). */
  expiryMs: number;
  readonly keys: Set<string>;
  revoking: boolean;
}

/** Where applied lease changes are persisted; writes are buffered by the caller's commit order. */
export interface LeasePersistence {
  load(): { id: bigint; ttl: number }[];
  put(id: bigint, ttl: number): void;
  delete(id: bigint): void;
}

export class Lessor {
  private readonly leases = new Map<bigint, Lease>();
  /** key (latin1) -> lease id, for detaching on overwrite and delete. */
  private readonly keyLease = new Map<string, bigint>();

  /**
   * @param minTtlSeconds etcd's minimum TTL: ceil(1.5 election timeouts); smaller grants are raised to it.
   */
  constructor(
    private readonly persistence: LeasePersistence,
    private readonly now: () => number,
    readonly minTtlSeconds: number,
  ) {
    for (const { id, ttl } of persistence.load()) {
      this.leases.set(id, { id, ttl, expiryMs: now() + ttl * 1000, keys: new Set(), revoking: false });
    }
  }

  get size(): number {
    return this.leases.size;
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
    this.leases.set(id, { id, ttl, expiryMs: this.now() + ttl * 1000, keys: new Set(), revoking: false });
    this.persistence.put(id, ttl);
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
    return keys;
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

  // ---- leader-local ----

  /** Renews a lease to its full TTL; returns the TTL, or undefined when it does not exist or expired. */
  renew(id: bigint): number | undefined {
    const l = this.leases.get(id);
    if (!l || l.revoking || l.expiryMs <= this.now()) return undefined;
    l.expiryMs = this.now() + l.ttl * 1000;
    return l.ttl;
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

  /** On becoming leader (and at start): every lease gets its full TTL from now, as etcd's Promote. */
  refreshAll(): void {
    const now = this.now();
    for (const l of this.leases.values()) l.expiryMs = now + l.ttl * 1000;
  }
}
