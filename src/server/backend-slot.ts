/**
 * The slot holding the member's store and what lives in it (lessor, member table, alarms). The
 * store is replaced as a whole by Defragment and by a snapshot install; while a swap runs, requests
 * wait for the new store (at most the request timeout) instead of failing, and operations that span
 * several turns on the store (`withStore`: hashes, copies) hold the swap off until they finish.
 *
 * It also runs the lazy commits to lmdb: at most one at a time, after each apply turn.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MvccStore } from '../mvcc/index.js';
import { etcdError } from '../wire/errors.js';
import { Alarms } from './alarms.js';
import type { Identity } from './bootstrap.js';
import { storeOptions } from './bootstrap.js';
import type { ResolvedConfig } from './config.js';
import { openLessor } from './lease-checkpoint.js';
import type { Lessor } from './lessor.js';
import type { Logger } from './logger.js';
import { Membership } from './membership.js';
import type { ServerMetrics } from './metrics.js';

export interface BackendSlotHost {
  cfg: ResolvedConfig;
  logger: Logger;
  metrics: ServerMetrics;
  identity: Identity;
  stopped(): boolean;
  /** Before the old store closes: acknowledge what is applied (the last turn's results). */
  flushApplied(): void;
  /** A lazy commit failed: the member must stop. */
  onCommitFailed(err: unknown): void;
  /** A new store is in place (the applied index is now the new store's). */
  onSwapped(): void;
}

/** Physical compactions remembered for `compactionsSettled` (older ones have long finished). */
const COMPACTIONS_TRACKED = 16;

export class BackendSlot {
  store: MvccStore;
  lessor!: Lessor;
  membership!: Membership;
  alarms!: Alarms;
  /** Set while the store is being replaced (defrag, snapshot install); requests wait for it. */
  private swapping: Promise<void> | undefined;
  /** Operations spanning several turns on the store (hash, copies); a swap waits for them. */
  private users = 0;
  private idle: (() => void) | undefined;
  /** The lazy store commit in flight (at most one at a time). */
  private commitInFlight: Promise<void> | undefined;
  /** The latest physical compactions (at most COMPACTIONS_TRACKED), for shutdown and tests. */
  private compactions: Promise<void>[] = [];

  constructor(
    private readonly host: BackendSlotHost,
    store: MvccStore,
  ) {
    this.store = store;
    this.reload();
  }

  /** Opens the store of data dir `cfg` (creating it when new). */
  static openStore(cfg: ResolvedConfig, metrics: ServerMetrics, logger: Logger): Promise<MvccStore> {
    mkdirSync(cfg.layout.storeDir, { recursive: true });
    return MvccStore.open(
      storeOptions(cfg, (seconds) => metrics.backendCommitSeconds.observe(seconds), logger, metrics.mvccOps),
    );
  }

  /** Whether a swap is in progress (requests then go through `ready()`). */
  get isSwapping(): boolean {
    return this.swapping !== undefined;
  }

  /**
   * The store, once no swap (defrag, snapshot install) is in progress: requests that arrive during
   * one wait for the new store instead of failing, at most the request timeout.
   */
  async ready(): Promise<MvccStore> {
    const { clock, requestTimeoutMs } = this.host.cfg;
    const deadline = clock.now() + requestTimeoutMs;
    while (this.swapping) {
      const left = deadline - clock.now();
      if (left <= 0) throw etcdError('timeout');
      let timer: { clear(): void } | undefined;
      await Promise.race([
        this.swapping,
        new Promise((r) => {
          timer = clock.setTimeout(() => r(undefined), left);
        }),
      ]);
      timer?.clear();
    }
    if (this.host.stopped()) throw etcdError('stopped');
    return this.store;
  }

  /**
   * Runs `fn` on the store and keeps the store from being swapped out (defrag, snapshot install)
   * until `fn` settles: for operations that span several event-loop turns (hashes, copies).
   */
  async withStore<T>(fn: (store: MvccStore) => Promise<T>): Promise<T> {
    const store = await this.ready();
    this.users++;
    try {
      return await fn(store);
    } finally {
      if (--this.users === 0) this.idle?.();
    }
  }

  /** Commits applied writes to lmdb in the background (one at a time; a failure stops the member). */
  commitLazily(): void {
    if (this.commitInFlight || this.host.stopped()) return;
    this.commitInFlight = this.store.committedLazily().then(
      () => {
        this.commitInFlight = undefined;
        this.host.metrics.dbTotalSize.set(this.store.dbSize());
      },
      (err: unknown) => {
        this.commitInFlight = undefined;
        this.host.onCommitFailed(err);
      },
    );
  }

  /** Waits for the lazy commit in flight, if any. */
  async commitsSettled(): Promise<void> {
    while (this.commitInFlight) await this.commitInFlight;
  }

  /** A physical compaction started: tracked until done; the result never rejects (failures are logged). */
  trackCompaction(done: Promise<void>): Promise<void> {
    const { logger, metrics } = this.host;
    const tracked = done.then(
      () => {
        metrics.dbTotalSize.set(this.store.dbSize());
      },
      (err: unknown) => {
        logger.error({ err: String(err) }, 'compaction failed');
      },
    );
    this.compactions.push(tracked);
    if (this.compactions.length > COMPACTIONS_TRACKED)
      this.compactions = this.compactions.slice(-COMPACTIONS_TRACKED);
    return tracked;
  }

  /** Waits for every tracked compaction. */
  async compactionsSettled(): Promise<void> {
    await Promise.allSettled(this.compactions);
  }

  /** Swaps in the database `file` (a data.mdb) and reloads everything that lives in it. */
  async replace(file: string): Promise<void> {
    let swapped!: () => void;
    this.swapping = new Promise((r) => {
      swapped = r;
    });
    try {
      while (this.users > 0) {
        await new Promise<void>((r) => {
          this.idle = r;
        });
      }
      this.idle = undefined;
      await this.swap(file);
    } finally {
      this.swapping = undefined;
      swapped();
    }
  }

  private async swap(file: string): Promise<void> {
    const { cfg, logger, metrics } = this.host;
    this.host.flushApplied();
    await this.commitsSettled();
    await this.store.close();
    renameSync(file, cfg.layout.storeFile);
    rmSync(join(cfg.layout.storeDir, 'db', 'lock.mdb'), { force: true });
    this.store = await BackendSlot.openStore(cfg, metrics, logger);
    await this.store.syncAll();
    const oldLessor = this.lessor;
    this.reload();
    // The member keeps leading through a swap: its lease clock goes on (see Lessor.adoptClockOf).
    this.lessor.adoptClockOf(oldLessor);
    this.host.onSwapped();
    metrics.dbTotalSize.set(this.store.dbSize());
  }

  /** Rebuilds what lives in the store: leases (with their keys), the member table, alarms. */
  private reload(): void {
    const { cfg } = this.host;
    this.lessor = openLessor(
      this.store,
      cfg,
      cfg.minLeaseTtlSeconds,
      cfg.clock,
      this.host.metrics.leaseObserver,
    );
    this.attachLeasedKeys();
    this.membership = new Membership(this.host.identity.members, this.store);
    this.alarms = new Alarms(this.store);
  }

  /** Re-attaches keys to their leases after a restart (only when leases exist: it reads every key). */
  private attachLeasedKeys(): void {
    if (this.lessor.size === 0) return;
    const all = this.store.range(Buffer.from([0]), Buffer.from([0]));
    for (const kv of all.kvs) if (kv.lease !== 0n) this.lessor.onPut(kv.key, kv.lease);
  }
}
