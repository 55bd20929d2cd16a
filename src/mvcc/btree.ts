/**
 * An ordered map from strings to values: a B+tree whose leaves hold sorted keys and values.
 * Keys are latin1 strings made from the user's key bytes (one char per byte), so JavaScript's
 * string order (UTF-16 code units, here all < 256) is exactly etcd's byte order (bytes.Compare),
 * and comparisons are native string compares instead of Buffer.compare calls.
 *
 * Why a B+tree: the key index needs point updates and ordered range scans over up to millions of
 * keys; a sorted array pays O(n) per insert, a B+tree O(log n) with small constant factors and
 * cache-friendly arrays. Deletion removes empty nodes but does not rebalance underfull ones: the
 * height stays bounded by the largest size the tree ever had, which is fine for an index that is
 * rebuilt from disk on every open.
 */
import { assert } from '../pkg/index.js';

/** Most entries a node holds before it splits. */
export const BTREE_NODE_ENTRIES_MAX = 64;
/** Fill of leaves built by `fromSorted` (room left for later inserts). */
const BULK_FILL = 48;

interface Leaf<V> {
  leaf: true;
  keys: string[];
  vals: V[];
}

interface Inner<V> {
  leaf: false;
  /** keys[i] is the smallest key that may live in kids[i + 1]; keys.length === kids.length - 1. */
  keys: string[];
  kids: Node<V>[];
}

type Node<V> = Leaf<V> | Inner<V>;

/** Index of the first element >= k. */
function lowerBound(a: string[], k: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element > k. */
function upperBound(a: string[], k: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** An ordered string-keyed map; see the file comment. Not safe to modify during `visit`. */
export class BTree<V> {
  private root: Node<V> = { leaf: true, keys: [], vals: [] };
  private count = 0;

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** Builds a tree from keys sorted strictly ascending and their values (arrays are not kept). */
  static fromSorted<V>(keys: readonly string[], vals: readonly V[]): BTree<V> {
    assert(keys.length === vals.length, 'fromSorted needs one value per key');
    const t = new BTree<V>();
    if (keys.length === 0) return t;
    let level: Node<V>[] = [];
    let firsts: string[] = [];
    for (let i = 0; i < keys.length; i += BULK_FILL) {
      const ks = keys.slice(i, i + BULK_FILL);
      assert(i === 0 || keys[i - 1]! < ks[0]!, 'fromSorted keys must ascend');
      level.push({ leaf: true, keys: ks, vals: vals.slice(i, i + BULK_FILL) });
      firsts.push(ks[0]!);
    }
    while (level.length > 1) {
      const up: Node<V>[] = [];
      const upFirsts: string[] = [];
      for (let i = 0; i < level.length; i += BULK_FILL) {
        const kids = level.slice(i, i + BULK_FILL);
        up.push({ leaf: false, keys: firsts.slice(i + 1, i + kids.length), kids });
        upFirsts.push(firsts[i]!);
      }
      level = up;
      firsts = upFirsts;
    }
    t.root = level[0]!;
    t.count = keys.length;
    return t;
  }

  /** The value at `k`, or undefined. */
  get(k: string): V | undefined {
    let n = this.root;
    while (!n.leaf) n = n.kids[upperBound(n.keys, k)]!;
    const i = lowerBound(n.keys, k);
    return n.keys[i] === k ? n.vals[i] : undefined;
  }

  /** Inserts or replaces the value at `k`. */
  set(k: string, v: V): void {
    const split = this.insert(this.root, k, v);
    if (split !== undefined) {
      this.root = { leaf: false, keys: [split.sep], kids: [this.root, split.node] };
    }
  }

  private insert(n: Node<V>, k: string, v: V): { sep: string; node: Node<V> } | undefined {
    if (n.leaf) {
      const i = lowerBound(n.keys, k);
      if (n.keys[i] === k) {
        n.vals[i] = v;
        return undefined;
      }
      n.keys.splice(i, 0, k);
      n.vals.splice(i, 0, v);
      this.count++;
      if (n.keys.length <= BTREE_NODE_ENTRIES_MAX) return undefined;
      const mid = n.keys.length >>> 1;
      const right: Leaf<V> = { leaf: true, keys: n.keys.splice(mid), vals: n.vals.splice(mid) };
      return { sep: right.keys[0]!, node: right };
    }
    const i = upperBound(n.keys, k);
    const split = this.insert(n.kids[i]!, k, v);
    if (split === undefined) return undefined;
    n.keys.splice(i, 0, split.sep);
    n.kids.splice(i + 1, 0, split.node);
    if (n.kids.length <= BTREE_NODE_ENTRIES_MAX) return undefined;
    const mid = n.kids.length >>> 1;
    const rightKids = n.kids.splice(mid);
    const rightKeys = n.keys.splice(mid);
    const sep = n.keys.pop();
    assert(sep !== undefined, 'inner split lost its separator');
    return { sep, node: { leaf: false, keys: rightKeys, kids: rightKids } };
  }

  /** Removes `k`; returns whether it was present. */
  delete(k: string): boolean {
    const found = this.remove(this.root, k);
    const r = this.root;
    if (!r.leaf) {
      if (r.kids.length === 0) this.root = { leaf: true, keys: [], vals: [] };
      else if (r.kids.length === 1) this.root = r.kids[0]!;
    }
    return found;
  }

  private remove(n: Node<V>, k: string): boolean {
    if (n.leaf) {
      const i = lowerBound(n.keys, k);
      if (n.keys[i] !== k) return false;
      n.keys.splice(i, 1);
      n.vals.splice(i, 1);
      this.count--;
      return true;
    }
    const i = upperBound(n.keys, k);
    const kid = n.kids[i]!;
    const found = this.remove(kid, k);
    if (found && (kid.leaf ? kid.keys.length === 0 : kid.kids.length === 0)) {
      n.kids.splice(i, 1);
      if (n.keys.length > 0) n.keys.splice(i === 0 ? 0 : i - 1, 1);
    }
    return found;
  }

  /**
   * Calls `fn(key, value)` for each entry with key >= `from`, in ascending order, until `fn`
   * returns false. `fn` must not modify the tree.
   */
  visit(from: string, fn: (k: string, v: V) => boolean): void {
    this.visitNode(this.root, from, fn);
  }

  private visitNode(n: Node<V>, from: string, fn: (k: string, v: V) => boolean): boolean {
    if (n.leaf) {
      const keys = n.keys;
      const vals = n.vals;
      for (let i = lowerBound(keys, from); i < keys.length; i++) {
        if (!fn(keys[i]!, vals[i]!)) return false;
      }
      return true;
    }
    const kids = n.kids;
    for (let i = upperBound(n.keys, from); i < kids.length; i++) {
      if (!this.visitNode(kids[i]!, from, fn)) return false;
    }
    return true;
  }

  /** Checks structural invariants (sorted keys, separators bound subtrees, count); for tests. */
  checkInvariants(): void {
    let seen = 0;
    let last: string | undefined;
    const walk = (n: Node<V>, lo: string | undefined, hi: string | undefined): void => {
      if (n.leaf) {
        assert(n.keys.length === n.vals.length, 'leaf keys and values differ in length');
        for (const k of n.keys) {
          assert(last === undefined || last < k, 'keys not strictly ascending');
          assert(lo === undefined || k >= lo, 'key below its separator');
          assert(hi === undefined || k < hi, 'key at or above the next separator');
          last = k;
          seen++;
        }
        return;
      }
      assert(n.keys.length === n.kids.length - 1, 'inner node separator count');
      for (let i = 0; i < n.kids.length; i++) {
        walk(n.kids[i]!, i === 0 ? lo : n.keys[i - 1], i === n.keys.length ? hi : n.keys[i]);
      }
    };
    walk(this.root, undefined, undefined);
    assert(seen === this.count, 'entry count mismatch');
  }
}
