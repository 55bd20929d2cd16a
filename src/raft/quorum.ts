/**
 * Majority-quorum math for one voter set (this core changes membership one voter at a time, so
 * it never needs joint quorums). Pure functions, property-tested against brute force.
 */
import type { NodeId } from './types.js';

/** The number of voters that make a majority of n (n >= 1). */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index acknowledged by a majority of `voters`, given each voter's acknowledged
 * (matched) index; voters without an entry count as 0. An empty voter set commits nothing (0).
 */
export function committedIndex(
  voters: Iterable<NodeId>,
  matchOf: (id: NodeId) => number | undefined,
): number {
  const m: number[] = [];
  for (const id of voters) {
    // Insertion sort, descending: voter sets are tiny, and Array.prototype.sort allocates work
    // arrays on this hot path (called for every append acknowledgement).
    const v = matchOf(id) ?? 0;
    let i = m.length;
    m.push(v);
    while (i > 0 && m[i - 1]! < v) {
      m[i] = m[i - 1]!;
      i--;
    }
    m[i] = v;
  }
  if (m.length === 0) return 0;
  // Sorted descending, the value at position majority-1 is held by at least a majority.
  return m[majority(m.length) - 1]!;
}

/** Outcome of a vote (or of any yes/no poll among voters). */
export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * Whether `votes` (true = granted) among `voters` already decide the poll. Votes from non-voters
 * are ignored. An empty voter set wins (nothing to wait for).
 */
export function voteResult(voters: Iterable<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let n = 0;
  let yes = 0;
  let no = 0;
  for (const id of voters) {
    n++;
    const v = votes.get(id);
    if (v === true) yes++;
    else if (v === false) no++;
  }
  if (n === 0) return 'won';
  const q = majority(n);
  if (yes >= q) return 'won';
  if (yes + (n - yes - no) >= q) return 'pending';
  return 'lost';
}
