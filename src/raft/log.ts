/**
 * The Raft log as the core sees it: stable entries in `Storage` followed by unstable ones, plus the
 * commit and applied indexes.
 *
 *   snapshot.index   firstIndex                  unstable.offset            lastIndex
 *        |<- compacted ->|<------- storage ------->|<------ unstable ------->|
 *                                  applied <= committed <= lastIndex
 */
import { assert } from '../pkg/assert.js';
import { entrySize, limitSize, UnstableLog } from './log-unstable.js';
import { type Storage, StorageError } from './storage.js';
import type { Entry, Snapshot } from './types.js';

/** Unbounded size limit. */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** The combined stable + unstable log; see the file comment. */
export class RaftLog {
  readonly unstable: UnstableLog;
  /** Highest index known to be committed (stored on a quorum). */
  committed: number;
  /** Highest index the driver has applied (reported through advance()). */
  applied: number;

  constructor(
    readonly storage: Storage,
    /** Bound on the bytes of committed entries handed out in one Ready. */
    readonly maxApplyingBytes: number = NO_LIMIT,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new UnstableLog(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'the term of the last entry is always known');
    return t;
  }

  /** The term of entry i, or undefined when i is compacted away or beyond the log. */
  term(i: number): number | undefined {
    const u = this.unstable.maybeTerm(i);
    if (u !== undefined) return u;
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (e instanceof StorageError && (e.code === 'compacted' || e.code === 'unavailable')) return undefined;
      throw e;
    }
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /**
   * Whether a log ending at (lastIndex, lastTerm) is at least as up to date as ours (Raft §5.4.1).
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The follower side of MsgApp: if our entry at `index` has `logTerm`, merge `ents` after it and
   * advance commit to min(committed, last new index). Returns the last new index, or -1 on mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, `entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends entries (which may overwrite an uncommitted suffix); returns the new last index. */
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, `append after ${after} is below committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `ents` that is missing from or conflicts with our log, or 0
   * when all are already present.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term: the leader uses it to
   * skip a whole term of conflicting entries per round trip (thesis §5.3's optimization). Returns
   * [index, 0] when the term at `index` is unknown (compacted).
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      const t = this.term(index);
      if (t === undefined) return [index, 0];
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  /** Entries not yet persisted. The array belongs to the caller. */
  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /** The pending snapshot if any, else storage's (may throw 'snapshot-temporarily-unavailable'). */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  private applyStart(): number {
    return Math.max(this.applied + 1, this.firstIndex());
  }

  hasNextCommittedEnts(): boolean {
    return this.committed + 1 > this.applyStart() && !this.hasPendingSnapshot();
  }

  /** Committed entries not yet applied, bounded by maxApplyingBytes (at least one entry). */
  nextCommittedEnts(): Entry[] {
    if (this.hasPendingSnapshot()) return [];
    const lo = this.applyStart();
    if (this.committed + 1 <= lo) return [];
    return this.slice(lo, this.committed + 1, this.maxApplyingBytes) ?? [];
  }

  /**
   * Entries in [lo, hi) bounded by `maxBytes` (at least one). Returns null when lo is compacted.
   */
  slice(lo: number, hi: number, maxBytes: number): Entry[] | null {
    if (lo < this.firstIndex()) return null;
    assert(hi <= this.lastIndex() + 1, `slice [${lo},${hi}) beyond last index ${this.lastIndex()}`);
    if (lo >= hi) return [];
    let out: Entry[] = [];
    const off = this.unstable.offset;
    if (lo < off) {
      let stored: Entry[];
      try {
        stored = this.storage.entries(lo, Math.min(hi, off), maxBytes);
      } catch (e) {
        if (e instanceof StorageError && e.code === 'compacted') return null;
        throw e;
      }
      // Storage cut the range short for size: do not add unstable entries after the gap.
      if (stored.length < Math.min(hi, off) - lo) return stored;
      out = stored;
    }
    if (hi > off) {
      const u = this.unstable.slice(Math.max(lo, off), hi);
      out = out.length > 0 ? out.concat(u) : u;
    }
    return limitSize(out, maxBytes);
  }

  /** Entries from `lo` to the end, bounded by maxBytes; null when lo is compacted. */
  entriesFrom(lo: number, maxBytes: number): Entry[] | null {
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, this.lastIndex() + 1, maxBytes);
  }

  /**
   * Advances commit to `maxIndex` if the entry there is of `term` (the leader's current term):
   * Raft commits only by counting replicas of current-term entries (Figure 8).
   */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** Raises commit to c (never lowers it). c must be within the log. */
  commitTo(c: number): void {
    if (c <= this.committed) return;
    assert(c <= this.lastIndex(), `commit ${c} beyond last index ${this.lastIndex()}`);
    this.committed = c;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    assert(i <= this.committed, `applied ${i} beyond committed ${this.committed}`);
    assert(i >= this.applied, `applied ${i} below previous applied ${this.applied}`);
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** Replaces the log with a snapshot (the follower installs the leader's snapshot). */
  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Total payload bytes of entries. */
  static payloadSize(ents: Entry[]): number {
    let n = 0;
    for (const e of ents) n += entrySize(e);
    return n;
  }
}
