/**
 * A Raft snapshot's database between members. The leader sends a copy of its store with MsgSnap; a
 * follower keeps the received database until Raft asks to install the snapshot, then stamps its own
 * identity into it and swaps it in (the backend slot), and tells watchers about the revisions they
 * have not seen.
 *
 * On the wire the database is followed by its SHA-256 (32 bytes), as etcd's snapshot files end with
 * one. Before Raft hears of the snapshot the follower checks, in this order: the stream ended where
 * announced (the transport), the trailer is there and matches what arrived, and the file is an lmdb
 * file lmdb can map (validateStoreFile). A failed check removes what arrived, logs "refused the
 * database of a snapshot" naming the check, and fails the transfer (SnapshotReceiveError), so the
 * leader reports the snapshot as failed and sends it again; the member's own store is never touched.
 */
import { createHash } from 'node:crypto';
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

/** Bytes of the SHA-256 that follows the database on the wire. */
export const SNAPSHOT_DIGEST_BYTES = 32;

/** A received snapshot database failed a check; `check` names which. */
export class SnapshotReceiveError extends Error {
  override name = 'SnapshotReceiveError';
  constructor(
    readonly check: 'stream' | 'digest' | 'store-file',
    message: string,
  ) {
    super(message);
  }
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
      t.sendSnapshot(m, streamThenRemove(file, dir), size + SNAPSHOT_DIGEST_BYTES);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      logger.warn({ to: m.to.toString(16), err: String(err) }, 'could not prepare a snapshot');
      this.host.reportSnapshot(m.to, false);
    }
  }

  /**
   * The database of a MsgSnap arrived: check it (see the file comment), keep it for the install,
   * then hand the message to Raft. Throws SnapshotReceiveError (after removing what arrived) when a
   * check fails, and never hands such a snapshot to Raft.
   */
  async receive(m: Message, data: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
    const { layout } = this.host.cfg;
    rmSync(layout.incomingDir, { recursive: true, force: true });
    this.incomingDb = undefined;
    // In a store layout (<dir>/db/data.mdb), so install can open it to stamp our identity.
    mkdirSync(dirname(layout.incomingFile), { recursive: true });
    const file = layout.incomingFile;
    const from = m.from.toString(16);
    try {
      const started = performance.now();
      const fsyncSeconds = await receiveVerified(file, data, from);
      this.host.metrics.snapDbFsyncSeconds.observe(fsyncSeconds);
      // etcd's SaveDBFrom: the whole save of an incoming snapshot database, fsync included
      this.host.metrics.snapDbSaveSeconds.observe((performance.now() - started) / 1000);
      try {
        validateStoreFile(file); // a damaged database must not reach lmdb (a SIGSEGV)
      } catch (e) {
        throw new SnapshotReceiveError('store-file', (e as Error).message);
      }
    } catch (e) {
      const err =
        e instanceof SnapshotReceiveError
          ? e
          : new SnapshotReceiveError('stream', `snapshot database from ${from}: ${(e as Error).message}`);
      this.host.logger.error(
        { err: err.message, check: err.check, from, index: m.snapshot?.metadata.index },
        'refused the database of a snapshot',
      );
      rmSync(layout.incomingDir, { recursive: true, force: true });
      throw err;
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

/**
 * Writes a received snapshot stream to `file` without its last SNAPSHOT_DIGEST_BYTES, which must be
 * the SHA-256 of everything before them; fsyncs the file. Throws SnapshotReceiveError ('digest')
 * when the trailer is missing or does not match; errors of the stream itself pass through.
 * Resolves with the seconds the fsync took.
 */
export async function receiveVerified(
  file: string,
  data: AsyncIterable<Uint8Array> | Uint8Array,
  from: string,
): Promise<number> {
  const fh = await open(file, 'w');
  const sha = createHash('sha256');
  let tail: Buffer = Buffer.alloc(0);
  let total = 0;
  try {
    const take = async (chunk: Uint8Array) => {
      total += chunk.byteLength;
      const all = tail.length === 0 ? Buffer.from(chunk) : Buffer.concat([tail, chunk]);
      const keep = Math.min(SNAPSHOT_DIGEST_BYTES, all.length);
      const body = all.subarray(0, all.length - keep);
      tail = Buffer.from(all.subarray(all.length - keep));
      if (body.length > 0) {
        sha.update(body);
        await fh.write(body);
      }
    };
    if (data instanceof Uint8Array) await take(data);
    else for await (const chunk of data) await take(chunk);
    if (total < SNAPSHOT_DIGEST_BYTES)
      throw new SnapshotReceiveError(
        'digest',
        `snapshot database from ${from}: ${total} bytes, shorter than its ${SNAPSHOT_DIGEST_BYTES}-byte SHA-256 trailer`,
      );
    const got = sha.digest();
    if (!got.equals(tail))
      throw new SnapshotReceiveError(
        'digest',
        `snapshot database from ${from}: SHA-256 ${got.toString('hex')} of the ${total - SNAPSHOT_DIGEST_BYTES} bytes received does not match the sender's ${tail.toString('hex')} (damaged in transfer)`,
      );
    const fsyncStarted = performance.now();
    await fh.datasync();
    return (performance.now() - fsyncStarted) / 1000;
  } finally {
    await fh.close();
  }
}

/** Streams a file in chunks and then its SHA-256, then removes its folder (the outgoing snapshot copy). */
async function* streamThenRemove(file: string, dir: string): AsyncIterable<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    const sha = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = Buffer.from(buf.subarray(0, bytesRead));
      sha.update(chunk);
      yield chunk;
    }
    yield sha.digest();
  } finally {
    await fh.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
