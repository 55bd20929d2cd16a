/**
 * The in-memory key index: for each key, the revisions at which it changed (etcd's keyIndex and
 * treeIndex, in a compact representation).
 *
 * A KeyIndex keeps every revision of one key in a flat number array, two slots per revision:
 *
 *   revs = [main0, sub0, main1, sub1, ...]    ascending by (main, sub)
 *
 * A tombstone (delete) stores its sub as `-(sub + 1)`. etcd's generations are implicit: a
 * generation is a run of puts ended by a tombstone. Only the current (open) generation's create
 * revision and version are kept as fields, because only puts need them; reads take version and
 * create revision from the stored KeyValue. This costs two numbers per revision instead of one
 * object, which matters at millions of keys.
 *
 * The TreeIndex holds KeyIndexes in a Map (point lookups, the hot path of Put and single-key
 * Range) and in a BTree (ordered range scans); both are keyed by the key's latin1 string.
 */
import { assert } from '../pkg/index.js';
import { BTree } from './btree.js';

/** Revision arrays shorter than this are copied exactly on append; longer ones grow by push. */
const EXACT_REVS_MAX = 16;
/** Shared by every KeyIndex until its first revision; never mutated (append replaces it). */
const EMPTY_REVS: number[] = [];

/** One key's revision history; see the file comment for the encoding. */
export class KeyIndex {
  /**
   * The key as a latin1 string (one char per byte). Set once: at construction, or by the persisted
   * index right after decoding (the decoder does not see the key).
   */
  key: string;
  /** Flat (main, taggedSub) pairs; tombstones have taggedSub = -(sub + 1). */
  revs: number[] = EMPTY_REVS;
  /** Create revision of the current generation; 0 when the key is deleted (no open generation). */
  createdMain = 0;
  /** Version (puts so far) of the current generation; 0 when the key is deleted. */
  ver = 0;
  /**
   * For the persisted index (index-store.ts): the number of the flush that will carry this entry's
   * latest change to lmdb; 0 while it is unchanged since its last flush.
   */
  dirtySeq = 0;

  constructor(key: string) {
    this.key = key;
  }

  /** Records a put at (main, sub); starts a generation if the key was deleted. */
  put(main: number, sub: number): void {
    this.assertAfterLast(main, sub);
    if (this.ver === 0) this.createdMain = main;
    this.ver++;
    this.append(main, sub);
  }

  /** Records a delete at (main, sub); the key must be live. Ends the current generation. */
  tombstone(main: number, sub: number): void {
    assert(this.ver > 0, 'tombstone of a key that is not live');
    this.assertAfterLast(main, sub);
    this.append(main, -(sub + 1));
    this.ver = 0;
    this.createdMain = 0;
  }

  /** Rebuild on open: a stored put with the create revision and version its KeyValue carries. */
  restorePut(main: number, sub: number, createdMain: number, ver: number): void {
    this.assertAfterLast(main, sub);
    this.append(main, sub);
    this.createdMain = createdMain;
    this.ver = ver;
  }

  /**
   * Rebuild on open: a stored tombstone. Recorded even if no put precedes it (a compaction
   * interrupted by a crash can leave one), so a re-run compaction finds and removes it.
   */
  restoreTombstone(main: number, sub: number): void {
    this.assertAfterLast(main, sub);
    this.append(main, -(sub + 1));
    this.ver = 0;
    this.createdMain = 0;
  }

  /**
   * Appends a (main, taggedSub) pair. Most keys hold a few revisions, so short arrays are
   * replaced by exact-size copies instead of grown by push (V8 grows a small array to 17+ slots,
   * which would triple the index's memory at millions of keys); long ones grow by push.
   */
  private append(main: number, taggedSub: number): void {
    const n = this.revs.length;
    if (n === 0) this.revs = [main, taggedSub];
    else if (n < EXACT_REVS_MAX) this.revs = this.revs.concat(main, taggedSub);
    else this.revs.push(main, taggedSub);
  }

  private assertAfterLast(main: number, sub: number): void {
    const n = this.revs.length;
    if (n === 0) return;
    const lm = this.revs[n - 2]!;
    const ls = this.revs[n - 1]!;
    const lsub = ls < 0 ? -ls - 1 : ls;
    assert(main > lm || (main === lm && sub > lsub), 'key index revisions must ascend');
  }

  /**
   * The slot (even index into revs) of the revision visible at store revision `atRev`: the last
   * revision with main <= atRev, if it is a put. -1 when the key did not exist at atRev.
   */
  findAt(atRev: number): number {
    const revs = this.revs;
    const n = revs.length;
    if (n === 0) return -1;
    let i: number;
    if (revs[n - 2]! <= atRev) {
      i = n - 2; // the common case: reading at or after the latest change
    } else {
      // binary search over pairs for the last main <= atRev
      let lo = 0;
      let hi = n >>> 1; // pair count
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (revs[mid * 2]! <= atRev) lo = mid + 1;
        else hi = mid;
      }
      if (lo === 0) return -1;
      i = (lo - 1) * 2;
    }
    return revs[i + 1]! < 0 ? -1 : i;
  }

  /** Whether the key has no revisions left (remove it from the index). */
  isEmpty(): boolean {
    return this.revs.length === 0;
  }

  /**
   * Compacts at `atRev` (etcd's keyIndex.compact): keeps the last revision <= atRev unless it is
   * a tombstone, and everything after it. Pushes each removed revision onto `removed` as
   * (main, taggedSub) pairs, for deletion from the backend.
   */
  compact(atRev: number, removed: number[]): void {
    const revs = this.revs;
    const n = revs.length;
    let lo = 0;
    let hi = n >>> 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (revs[mid * 2]! <= atRev) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return; // nothing at or below atRev
    const last = (lo - 1) * 2;
    const cut = revs[last + 1]! < 0 ? last + 2 : last; // a tombstone goes with its generation
    if (cut === 0) return;
    for (let i = 0; i < cut; i++) removed.push(revs[i]!);
    this.revs = revs.slice(cut);
  }
}

/** Decodes a tagged sub revision: [sub, isTombstone]. */
export function untagSub(tagged: number): number {
  return tagged < 0 ? -tagged - 1 : tagged;
}

/** The key index of the whole store: point lookups through a Map, ordered scans through a BTree. */
export class TreeIndex {
  private readonly byKey: Map<string, KeyIndex>;
  private readonly tree: BTree<KeyIndex>;

  constructor(byKey: Map<string, KeyIndex> = new Map(), tree: BTree<KeyIndex> = new BTree()) {
    this.byKey = byKey;
    this.tree = tree;
  }

  /** Builds the index from a Map filled during rebuild: sorts the keys and bulk-loads the tree. */
  static fromMap(byKey: Map<string, KeyIndex>): TreeIndex {
    const keys = Array.from(byKey.keys()).sort();
    const vals = keys.map((k) => byKey.get(k)!);
    return new TreeIndex(byKey, BTree.fromSorted(keys, vals));
  }

  /** Number of keys (live or with history). */
  get size(): number {
    return this.byKey.size;
  }

  /** The KeyIndex of `key`, or undefined. */
  get(key: string): KeyIndex | undefined {
    return this.byKey.get(key);
  }

  /** The KeyIndex of `key`, created and inserted if absent. */
  getOrCreate(key: string): KeyIndex {
    let ki = this.byKey.get(key);
    if (ki === undefined) {
      ki = new KeyIndex(key);
      this.byKey.set(key, ki);
      this.tree.set(key, ki);
    }
    return ki;
  }

  /** Removes `ki` if it is still the entry for its key. */
  remove(ki: KeyIndex): void {
    if (this.byKey.get(ki.key) !== ki) return;
    this.byKey.delete(ki.key);
    const found = this.tree.delete(ki.key);
    assert(found, 'key index map and tree disagree');
  }

  /**
   * Visits KeyIndexes with key in [from, end) in key order until `fn` returns false; `end`
   * undefined means no upper bound. `fn` must not modify the index.
   */
  visit(from: string, end: string | undefined, fn: (ki: KeyIndex) => boolean): void {
    if (end === undefined) {
      this.tree.visit(from, (_k, ki) => fn(ki));
    } else {
      this.tree.visit(from, (k, ki) => k < end && fn(ki));
    }
  }

  /**
   * A live iterator over all KeyIndexes (insertion order), for chunked compaction: entries removed
   * meanwhile are skipped, entries added meanwhile are visited (a Map iterator's guarantees), so
   * the index may change between steps without a snapshot of millions of entries.
   */
  values(): IterableIterator<KeyIndex> {
    return this.byKey.values();
  }

  /** Checks that map and tree hold the same entries; for tests. */
  checkInvariants(): void {
    this.tree.checkInvariants();
    assert(this.tree.size === this.byKey.size, 'map and tree sizes differ');
    for (const [k, ki] of this.byKey) assert(this.tree.get(k) === ki, 'map and tree disagree');
  }
}

/**
 * Encodes a KeyIndex for the persisted index (index-store.ts): unsigned LEB128 varints
 *
 *   createdMain, ver, pairs, then per revision: main - previous main (the first from 0),
 *   sub * 2 + (1 if tombstone)
 *
 * About 8 bytes for a key with one revision at a 7-digit revision.
 */
export function encodeKeyIndex(ki: KeyIndex): Buffer {
  const revs = ki.revs;
  const out = Buffer.allocUnsafe(8 * 3 + (revs.length >>> 1) * 16);
  let p = 0;
  const put = (v: number): void => {
    assert(Number.isSafeInteger(v) && v >= 0, 'key index varint must be a non-negative safe integer');
    while (v >= 0x80) {
      out[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    out[p++] = v;
  };
  put(ki.createdMain);
  put(ki.ver);
  put(revs.length >>> 1);
  let prev = 0;
  for (let i = 0; i < revs.length; i += 2) {
    const main = revs[i]!;
    const tagged = revs[i + 1]!;
    put(main - prev);
    put(tagged < 0 ? (-tagged - 1) * 2 + 1 : tagged * 2);
    prev = main;
  }
  return out.subarray(0, p);
}

/**
 * Decodes `bytes[start, end)` written by encodeKeyIndex into a fresh KeyIndex for `key`. Asserts
 * the encoding is whole (a damaged record is a programmer or storage error, never user input).
 */
export function decodeKeyIndex(key: string, bytes: Uint8Array, start = 0, end = bytes.length): KeyIndex {
  let p = start;
  const get = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      assert(p < end, 'key index record truncated');
      const b = bytes[p++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
      assert(mul <= 2 ** 56, 'key index varint too long');
    }
  };
  const ki = new KeyIndex(key);
  ki.createdMain = get();
  ki.ver = get();
  const pairs = get();
  const revs: number[] = new Array(pairs * 2);
  let main = 0;
  for (let i = 0; i < pairs; i++) {
    main += get();
    const s = get();
    revs[i * 2] = main;
    revs[i * 2 + 1] = s % 2 === 1 ? -((s - 1) / 2) - 1 : s / 2;
  }
  assert(p === end, 'key index record has trailing bytes');
  if (pairs > 0) ki.revs = revs;
  return ki;
}
