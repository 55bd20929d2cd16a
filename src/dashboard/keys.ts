/**
 * The key browser's two walks over etcd's flat key space, on a narrow reader so they can be tested
 * without a server:
 *
 * - `listChildren`: the keys under a prefix shown as a tree, `/` separating levels, one page at a
 *   time. A sub-tree ("dir") costs one range read no matter how many keys it holds: after meeting
 *   its first key the walk jumps to the end of its prefix. Leaves are read in batches. So a page of
 *   100 entries out of 10,000 keys is a handful of small keys-only reads, never the whole prefix.
 * - `keyHistory`: the versions of one key, newest first, by reading the key at the revision before
 *   each version's mod revision, until its create revision or the compacted revision.
 */

/** What the walks read: keys-only ranges and single-key reads at a revision. */
export interface KeyReader {
  /** Up to `limit` keys in [start, end) in ascending order (end `\0` = every key >= start). */
  keys(start: Buffer, end: Buffer, limit: number): Promise<Buffer[]>;
  /** The key as of `revision` (0n: now); undefined when it did not exist then. Throws when compacted. */
  get(key: Buffer, revision: bigint): Promise<KeyVersion | undefined>;
}

/** One version of a key. */
export interface KeyVersion {
  key: Buffer;
  value: Buffer;
  createRevision: bigint;
  modRevision: bigint;
  version: bigint;
  lease: bigint;
}

/** One row of the tree: a key (leaf) or a sub-prefix ending in the separator (dir). */
export interface TreeEntry {
  key: Buffer;
  dir: boolean;
}

/** Where a page begins: after this entry of the previous page. */
export interface PageCursor {
  key: Buffer;
  dir: boolean;
}

/** Largest page of tree entries one request may ask for. */
export const TREE_PAGE_MAX = 500;
/** Keys read per range while walking leaves. */
export const TREE_BATCH = 256;
/** Versions returned per history request. */
export const HISTORY_PAGE_MAX = 50;
/** The level separator. */
export const SEPARATOR = 0x2f; // '/'

/** etcd's GetPrefixRangeEnd: the smallest key greater than every key with this prefix (`\0` if none). */
export function prefixEnd(key: Buffer): Buffer {
  for (let i = key.length - 1; i >= 0; i--) {
    if (key[i]! < 0xff) {
      const end = Buffer.from(key.subarray(0, i + 1));
      end[i] = key[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

function after(c: PageCursor): Buffer {
  return c.dir ? prefixEnd(c.key) : Buffer.concat([c.key, Buffer.from([0])]);
}

/**
 * One page of the tree under `prefix` (the empty prefix: the whole key space): at most `pageSize`
 * entries in key order starting after `cursor`, and whether more follow.
 */
export async function listChildren(
  r: KeyReader,
  prefix: Buffer,
  cursor: PageCursor | undefined,
  pageSize: number,
): Promise<{ entries: TreeEntry[]; more: boolean }> {
  const size = Math.max(1, Math.min(pageSize, TREE_PAGE_MAX));
  const end = prefix.length === 0 ? Buffer.from([0]) : prefixEnd(prefix);
  const endless = end.length === 1 && end[0] === 0;
  // etcd refuses an empty key; "\0" is the smallest key there is.
  let start = cursor ? after(cursor) : prefix.length === 0 ? Buffer.from([0]) : prefix;
  const entries: TreeEntry[] = [];
  for (;;) {
    if (entries.length > size) break;
    if (!endless && Buffer.compare(start, end) >= 0) break;
    const keys = await r.keys(start, end, TREE_BATCH);
    if (keys.length === 0) break;
    let jumped = false;
    for (const k of keys) {
      const rest = k.subarray(prefix.length);
      const i = rest.indexOf(SEPARATOR);
      if (i < 0) {
        entries.push({ key: k, dir: false });
        start = after({ key: k, dir: false });
      } else {
        const dir = Buffer.from(k.subarray(0, prefix.length + i + 1));
        entries.push({ key: dir, dir: true });
        start = after({ key: dir, dir: true });
        jumped = true;
        break;
      }
      if (entries.length > size) break;
    }
    if (!jumped && keys.length < TREE_BATCH) break;
  }
  return { entries: entries.slice(0, size), more: entries.length > size };
}

/** A page of a key's versions, newest first, and why the walk stopped. */
export interface KeyHistory {
  versions: KeyVersion[];
  /** 'created': reached the version that created the key; 'compacted': older revisions are gone; 'page': more follow (ask again before the last one's mod revision); 'absent': the key does not exist at the start revision. */
  end: 'created' | 'compacted' | 'page' | 'absent';
}

/** True for etcd's "required revision has been compacted" answer, whatever the reader throws. */
export type IsCompacted = (e: unknown) => boolean;

/** The versions of `key` as of `revision` (0n: now) going back, at most `limit`. */
export async function keyHistory(
  r: KeyReader,
  key: Buffer,
  revision: bigint,
  limit: number,
  isCompacted: IsCompacted,
): Promise<KeyHistory> {
  const max = Math.max(1, Math.min(limit, HISTORY_PAGE_MAX));
  const versions: KeyVersion[] = [];
  let at = revision;
  for (;;) {
    let kv: KeyVersion | undefined;
    try {
      kv = await r.get(key, at);
    } catch (e) {
      if (isCompacted(e)) return { versions, end: 'compacted' };
      throw e;
    }
    if (kv === undefined) return { versions, end: versions.length === 0 ? 'absent' : 'created' };
    versions.push(kv);
    if (kv.version <= 1n) return { versions, end: 'created' };
    if (versions.length >= max) return { versions, end: 'page' };
    at = kv.modRevision - 1n;
  }
}
