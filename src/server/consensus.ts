/**
 * The seam between the member and whatever orders its writes. Today a single member orders them
 * itself (`SoloLog`); the clustering work puts Raft behind the same interface: proposals go in,
 * committed entries come out in index order, exactly once each.
 */
import { assert } from '../pkg/assert.js';

/** A committed log entry as the apply loop sees it. */
export interface CommittedEntry {
  index: number;
  term: number;
  data: Uint8Array;
}

export interface ConsensusLog {
  /** Orders `data` into the log; committed entries reach the `onCommitted` callback given at start. */
  propose(data: Uint8Array): void;
  /** The current term (etcd's raft_term in response headers). */
  readonly term: number;
  /** The leader's member id, 0n when there is none. */
  readonly leader: bigint;
  readonly committedIndex: number;
}

/**
 * One member, no peers: every proposal commits at once, in order. The caller chooses the term it
 * reports (a fresh etcd 3.4 member has elected itself once at boot, so clients see term 2).
 */
export class SoloLog implements ConsensusLog {
  readonly term: number;
  private lastIndex: number;

  constructor(
    readonly leader: bigint,
    startIndex: number,
    term: number,
    private readonly onCommitted: (entry: CommittedEntry) => void,
  ) {
    assert(Number.isSafeInteger(startIndex) && startIndex >= 0, 'start index must be a safe integer');
    this.lastIndex = startIndex;
    this.term = term;
  }

  get committedIndex(): number {
    return this.lastIndex;
  }

  propose(data: Uint8Array): void {
    this.lastIndex += 1;
    this.onCommitted({ index: this.lastIndex, term: this.term, data });
  }
}
