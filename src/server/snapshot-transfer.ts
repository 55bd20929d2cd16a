/**
 * A Raft snapshot's database between members. The leader sends a copy of its store with MsgSnap; a
 * follower keeps the received database until Raft asks to install the snapshot, then stamps its own
 * identity into it and swaps it in (the backend slot), and tells watchers about the revisions they
 * have not seen.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MvccStore, validateStoreFile } from '../mvcc/index.js';
import type { Event } from '../proto/mvccpb/kv.js';
import type { Message } from '../raft/index.js';
import type { Transport } from '../transport/index.js';
import type { BackendSlot } from './backend-slot.js';
import { type Identity, saveIdentity } from './bootstrap.js';
import type { ResolvedConfig } from './config.js';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';

export interface SnapshotTransferHost {
  cfg: ResolvedConfig;
  logger: Logger;
  metrics: ServerMetrics;
  identity: Identity;
  backend: BackendSlot;
  /** Hands a message to Raft (the MsgSnap once its database is on disk). */
  step(m: Message): void;
  reportSnapshot(to: bigint, ok: boolean): void;
  /** The newest revision watchers have been told about. */
  notifiedRevision(): number;
  /** Events for watchers, published at the end of the turn. */
  publish(events: Event[]): void;
  /** The new store's history starts after what listeners have seen: they resync from it. */
  restored(rev: number): void;
  /** The store was replaced: peers from the new member table, the applied index from the store. */
  afterInstall(): void;
}

export class SnapshotTransfer {
  /** The database file of a snapshot received and not yet installed. */
  private incomingDb: string | undefined;

  constructor(private readonly host: SnapshotTransferHost) {}

  /** A follower needs a snapshot: send a copy of the store's database with the Raft snapshot. */
  async send(t: Transport, m: Message): Promise<void> {
    const { cfg, logger } = this.host;
    const dir = cfg.layout.outgoingDir(m.to, cfg.clock.wallNow());
    try {
      const file = await this.host.backend.withStore((s) => s.backupTo(dir));
      const size = statSync(file).size;
      logger.info(
        { to: m.to.toString(16), index: m.snapshot?.metadata.index, bytes: size },
        'sending a database snapshot',
      );
      t.sendSnapshot(m, streamThenRemove(file, dir), size);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      logger.warn({ to: m.to.toString(16), err: String(err) }, 'could not prepare a snapshot');
      this.host.reportSnapshot(m.to, false);
    }
  }

  /** The database of a MsgSnap arrived: keep it for the install, then hand the message to Raft. */
  async receive(m: Message, data: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
    const { layout } = this.host.cfg;
    rmSync(layout.incomingDir, { recursive: true, force: true });
    // In a store layout (<dir>/db/data.mdb), so install can open it to stamp our identity.
    mkdirSync(dirname(layout.incomingFile), { recursive: true });
    const file = layout.incomingFile;
    const started = performance.now();
    const fh = await open(file, 'w');
    try {
      if (data instanceof Uint8Array) await fh.write(data);
      else for await (const chunk of data) await fh.write(chunk);
      const fsyncStarted = performance.now();
      await fh.datasync();
      this.host.metrics.snapDbFsyncSeconds.observe((performance.now() - fsyncStarted) / 1000);
    } finally {
      await fh.close();
    }
    // etcd's SaveDBFrom: the whole save of an incoming snapshot database, fsync included
    this.host.metrics.snapDbSaveSeconds.observe((performance.now() - started) / 1000);
    try {
      validateStoreFile(file); // a damaged transfer must not reach lmdb (a SIGSEGV); the leader resends
    } catch (e) {
      this.host.logger.error(
        { err: (e as Error).message, from: m.from.toString(16) },
        'refused the database of a snapshot',
      );
      rmSync(layout.incomingDir, { recursive: true, force: true });
      return;
    }
    this.incomingDb = file;
    this.host.step(m);
  }

  /**
   * Replaces the store with the database received with the leader's snapshot, then reloads what
   * lives in it (leases, members), and tells watchers about the revisions they have not seen.
   */
  async install(snap: { metadata: { index: number } }): Promise<void> {
    this.host.metrics.snapshotApplyInProgress.set(1);
    try {
      await this.installNow(snap);
    } finally {
      this.host.metrics.snapshotApplyInProgress.set(0);
    }
  }

  private async installNow(snap: { metadata: { index: number } }): Promise<void> {
    const { host } = this;
    const incoming = this.incomingDb;
    if (!incoming) throw new Error(`no database received for the snapshot at index ${snap.metadata.index}`);
    this.incomingDb = undefined;
    const seenRev = host.notifiedRevision();
    // The leader's database carries the leader's identity record; a restart reads the member id
    // from it, so ours replaces it before the database becomes ours (the rename in replace).
    const received = await MvccStore.open({
      dir: dirname(dirname(incoming)),
      sync: false,
      logger: host.logger,
    });
    saveIdentity(received, host.identity);
    await received.syncAll();
    await received.close();
    rmSync(join(dirname(incoming), 'lock.mdb'), { force: true });
    await host.backend.replace(incoming);
    rmSync(host.cfg.layout.incomingDir, { recursive: true, force: true });
    host.afterInstall();
    host.metrics.snapshotReceiveSuccess.inc();
    const store = host.backend.store;
    host.logger.info(
      { index: snap.metadata.index, 'applied-index': store.consistentIndex, revision: store.rev },
      'installed the database from the leader',
    );
    // Watchers saw revisions up to seenRev; give them the rest from the new store's history.
    let events: Event[] = [];
    if (store.rev > seenRev && store.compactRev <= seenRev) {
      events = store.rangeEvents(seenRev + 1, store.rev, Buffer.from([0]), Buffer.from([0]));
    } else if (store.rev > seenRev) {
      // etcd's watchable store Restore: every watcher re-reads from the new store; those behind its
      // compaction get the compacted error (never a silent gap).
      host.logger.warn(
        { 'seen-revision': seenRev, 'compact-revision': store.compactRev },
        'the snapshot is compacted past what watchers here have seen; watchers resync from the store',
      );
      host.restored(store.rev);
      return;
    }
    host.publish(events);
  }
}

/** Streams a file in chunks, then removes its folder (the outgoing snapshot copy). */
async function* streamThenRemove(file: string, dir: string): AsyncIterable<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      yield Buffer.from(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
