/**
 * An in-memory `Storage`, as etcd's MemoryStorage: used by tests and the simulator, where it plays
 * the role of the durable log (whatever the driver wrote here survives a simulated crash).
 *
 * Layout: `ents[0]` is a dummy entry standing for the snapshot (its index and term); real entries
 * follow contiguously. So firstIndex() = ents[0].index + 1 and lastIndex() = ents[0].index +
 * ents.length - 1.
 */
import { assert } from '../pkg/assert.js';
import { RaftError } from './errors.js';
import { limitSize } from './log-unstable.js';
import { type Storage, StorageError } from './storage.js';
import {
  type ConfState,
  type Entry,
  EntryType,
  emptyHardState,
  type HardState,
  type Snapshot,
} from './types.js';

const EMPTY = new Uint8Array(0);

/** An empty snapshot (index 0, term 0, no members). */
export function emptySnapshot(): Snapshot {
  return { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: EMPTY };
}

/** Whether a snapshot is the empty one (index 0). */
export function isEmptySnapshot(s: Snapshot | null): boolean {
  return s === null || s.metadata.index === 0;
}

/** The in-memory Storage; see the file comment for its layout. */
export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = emptySnapshot();
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }];

  initialState(): { hardState: HardState; confState: ConfState } {
    const cs = this.snap.metadata.confState;
    return {
      hardState: { ...this.hardState },
      confState: { voters: [...cs.voters], learners: [...cs.learners] },
    };
  }

  /** Records the hard state (durable in the simulation's model). */
  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new StorageError('compacted', `entries(${lo}) below first index ${offset + 1}`);
    if (hi > this.lastIndex() + 1) {
      throw new StorageError('unavailable', `entries(..${hi}) beyond last index ${this.lastIndex()}`);
    }
    assert(lo <= hi, 'entries: lo > hi');
    if (this.ents.length === 1) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new StorageError('compacted', `term(${i}) below snapshot index ${offset}`);
    if (i - offset >= this.ents.length) {
      throw new StorageError('unavailable', `term(${i}) beyond last index ${this.lastIndex()}`);
    }
    return this.ents[i - offset]!.term;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /**
   * Replaces the whole contents with a snapshot (a follower installing the leader's snapshot).
   * Throws RaftError 'snapshot-out-of-date' when it is older than the current one.
   */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index < this.snap.metadata.index) throw new RaftError('snapshot-out-of-date');
    this.snap = snap;
    this.ents = [
      { term: snap.metadata.term, index: snap.metadata.index, type: EntryType.Normal, data: EMPTY },
    ];
  }

  /**
   * Makes a snapshot at applied index `i` holding `data`, with `cs` as its membership (or the
   * previous snapshot's membership when null). Does not compact; call `compact` for that.
   * Throws RaftError 'snapshot-out-of-date' when i <= the current snapshot's index.
   */
  createSnapshot(i: number, cs: ConfState | null, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new RaftError('snapshot-out-of-date');
    const offset = this.ents[0]!.index;
    assert(i <= this.lastIndex(), `createSnapshot(${i}) beyond last index ${this.lastIndex()}`);
    const confState = cs ?? this.snap.metadata.confState;
    this.snap = {
      metadata: {
        index: i,
        term: this.ents[i - offset]!.term,
        confState: { voters: [...confState.voters], learners: [...confState.learners] },
      },
      data,
    };
    return this.snap;
  }

  /**
   * Drops entries before `compactIndex` (which becomes the new dummy entry). The caller must not
   * compact beyond its applied index. Throws StorageError 'compacted' when already compacted there.
   */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new StorageError('compacted', `compact(${compactIndex}) already done`);
    assert(
      compactIndex <= this.lastIndex(),
      `compact(${compactIndex}) beyond last index ${this.lastIndex()}`,
    );
    const i = compactIndex - offset;
    const dummy = this.ents[i]!;
    const rest = this.ents.slice(i + 1);
    this.ents = [{ term: dummy.term, index: dummy.index, type: EntryType.Normal, data: EMPTY }, ...rest];
  }

  /**
   * Appends entries, overwriting any conflicting suffix. Entries at or below the snapshot are
   * ignored. The entries must be contiguous and must not leave a gap after lastIndex().
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    if (first > entries[0]!.index) entries = entries.slice(first - entries[0]!.index);
    const offset = entries[0]!.index - this.ents[0]!.index;
    assert(
      offset <= this.ents.length,
      `append: gap, last index ${this.lastIndex()}, got ${entries[0]!.index}`,
    );
    if (offset === this.ents.length) {
      for (const e of entries) this.ents.push(e);
    } else {
      this.ents = this.ents.slice(0, offset).concat(entries);
    }
  }
}
