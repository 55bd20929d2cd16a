/**
 * The unstable part of the log: entries (and possibly a snapshot) the core has accepted but the
 * driver has not yet reported as persisted. `entries[i]` has index `offset + i`. When a snapshot is
 * pending, `offset === snapshot.metadata.index + 1`.
 */
import { assert } from '../pkg/assert.js';
import type { Entry, Snapshot } from './types.js';

/** Bytes an entry counts for in size limits: its payload. */
export function entrySize(e: Entry): number {
  return e.data.byteLength;
}

/**
 * The longest prefix of `ents` whose total size stays within `maxBytes`, but never fewer than one
 * entry. Returns `ents` itself when nothing is cut.
 */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/** Entries and snapshot not yet persisted; see the file comment. */
export class UnstableLog {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];

  constructor(public offset: number) {}

  /** The first index when a snapshot is pending, else undefined (storage knows). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  /** The last index held here, or undefined when empty. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata.index : undefined;
  }

  /** The term of entry i if held here, else undefined. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /**
   * The driver persisted entries up to (i, t). Ignored when the entry at i has since been replaced
   * (different term) or was already stable.
   */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined || gt !== t || i < this.offset) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  /** The driver persisted the snapshot at index i. */
  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  /** Replaces everything with a snapshot still to be persisted. */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends `ents` (contiguous), truncating any existing entries at or after ents[0].index. */
  truncateAndAppend(ents: Entry[]): void {
    if (ents.length === 0) return;
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Everything held here is replaced; the caller truncates stable storage on persist.
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
    }
  }

  /** Entries in [lo, hi); the range must lie within what is held here. */
  slice(lo: number, hi: number): Entry[] {
    assert(lo <= hi, `unstable.slice: ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    assert(lo >= this.offset && hi <= upper, `unstable.slice [${lo},${hi}) out of [${this.offset},${upper})`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
