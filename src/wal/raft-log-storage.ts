/**
 * `RaftLogStorage`: the `Storage` the Raft core reads, served from memory — the entries since the
 * last compaction, the hard state and the newest snapshot — and kept in step with the WAL by the
 * driver: after `await wal.save(hs, ents)` it calls `append(ents)` and `setHardState(hs)`.
 * `fromReplay` rebuilds it from what `Wal.open` and the snapshot store return.
 *
 * Layout: `ents[0]` is a dummy entry holding the index and term of the last compacted entry (the
 * snapshot's, after `applySnapshot`), so `firstIndex() = ents[0].index + 1`, as etcd's
 * MemoryStorage does. Every method follows the contract in ../raft/storage.ts.
 */
import { type Storage, StorageError } from '../raft/storage.js';
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  NONE,
  type Snapshot,
  type SnapshotMetadata,
} from '../raft/types.js';
import { WalError } from './errors.js';

function dummy(index: number, term: number): Entry {
  return { term, index, type: EntryType.Normal, data: new Uint8Array(0) };
}

/** In-memory raft log storage, the durable WAL's mirror. */
export class RaftLogStorage implements Storage {
  private hardState: HardState = { term: 0, vote: NONE, commit: 0 };
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    data: new Uint8Array(0),
  };
  private ents: Entry[] = [dummy(0, 0)];

  /**
   * Rebuilds the storage after a restart: `snapshot` is the snapshot the WAL's newest marker
   * names (loaded from the snapshot store), `entries` and `hardState` what `Wal.open` replayed.
   */
  static fromReplay(r: {
    hardState: HardState;
    entries: readonly Entry[];
    snapshot?: Snapshot;
  }): RaftLogStorage {
    const s = new RaftLogStorage();
    if (r.snapshot) s.applySnapshot(r.snapshot);
    s.setHardState(r.hardState);
    s.append(r.entries);
    return s;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset)
      throw new StorageError('compacted', `requested index ${lo} is compacted (first ${offset + 1})`);
    if (hi > this.lastIndex() + 1) {
      throw new StorageError(
        'unavailable',
        `entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`,
      );
    }
    if (lo >= hi) return [];
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - offset]!;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new StorageError('compacted', `requested index ${i} is compacted`);
    if (i - offset >= this.ents.length)
      throw new StorageError('unavailable', `requested index ${i} is unavailable`);
    return this.ents[i - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Records the hard state most recently saved to the WAL. */
  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  /**
   * Appends entries saved to the WAL. Entries at or below lastIndex() replace the tail from
   * their index (conflict truncation, exactly as WAL replay does); entries at or below the
   * compaction point are ignored. Throws WalError 'out-of-order' for a gap or non-consecutive
   * entries.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== entries[i - 1]!.index + 1) {
        throw new WalError('out-of-order', `raft log: entries not consecutive at ${entries[i]!.index}`);
      }
    }
    const first = this.firstIndex();
    let es = entries;
    if (es[es.length - 1]!.index < first) return;
    if (es[0]!.index < first) es = es.slice(first - es[0]!.index);
    const offset = es[0]!.index - this.ents[0]!.index;
    if (offset > this.ents.length) {
      throw new WalError(
        'out-of-order',
        `raft log: missing log entry [last: ${this.lastIndex()}, append at: ${es[0]!.index}]`,
      );
    }
    // Copy-on-truncate only: entries() hands out fresh arrays, so the common case (a plain
    // append) extends in place instead of copying the whole in-memory log every Ready.
    if (offset < this.ents.length) this.ents = this.ents.slice(0, offset);
    for (const e of es) this.ents.push(e);
  }

  /**
   * Replaces the whole log with `snapshot` (a snapshot received from the leader or loaded at
   * restart). Throws WalError 'out-of-order' when it is older than the current one.
   */
  applySnapshot(snapshot: Snapshot): void {
    const m = snapshot.metadata;
    if (m.index < this.snap.metadata.index) {
      throw new WalError(
        'out-of-order',
        `raft log: snapshot ${m.index} is older than ${this.snap.metadata.index}`,
      );
    }
    this.snap = snapshot;
    this.ents = [dummy(m.index, m.term)];
  }

  /**
   * Makes a snapshot of the applied state at `index` (<= lastIndex, >= the current snapshot's) with
   * `data`, to be served by snapshot(); the log itself is left alone (call compact separately).
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index < this.snap.metadata.index) {
      throw new WalError(
        'out-of-order',
        `raft log: snapshot ${index} is older than ${this.snap.metadata.index}`,
      );
    }
    if (index > this.lastIndex()) {
      throw new StorageError(
        'unavailable',
        `snapshot ${index} is out of bound lastindex(${this.lastIndex()})`,
      );
    }
    const metadata: SnapshotMetadata = { index, term: this.term(index), confState };
    this.snap = { metadata, data };
    return this.snap;
  }

  /**
   * Discards entries up to and including `index` (which keeps answering term(index)). Throws
   * StorageError 'compacted' when already compacted past it, 'unavailable' beyond lastIndex().
   */
  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) throw new StorageError('compacted', `requested index ${index} is compacted`);
    if (index > this.lastIndex()) {
      throw new StorageError(
        'unavailable',
        `compact ${index} is out of bound lastindex(${this.lastIndex()})`,
      );
    }
    const keep = this.ents.slice(index - offset);
    keep[0] = dummy(index, keep[0]!.term);
    this.ents = keep;
  }
}
