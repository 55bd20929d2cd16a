/**
 * Fault injection for tests and the fault suite, switchable at runtime. One `FaultHooks` may be
 * shared by every transport of a process (members in one test process) or each member may have its
 * own (members in separate processes, each told the same partition): a transport consults it on
 * both its sending side (from = itself) and its receiving side (to = itself), so a partition blocks
 * both directions either way.
 *
 * Semantics, all per directed link `from -> to`:
 * - partition: members in different groups of the active partition cannot exchange anything;
 *   members not named in any group are unaffected. Blocked messages vanish (like a dropped link);
 *   blocked snapshots fail and report `onSnapshotStatus(id, false)`.
 * - drop: each message is lost with the given probability (decided by the transport's seeded rng).
 * - delay: each message is held this many milliseconds before it is written; order is kept.
 * A link rule names `from` and `to` or uses `'*'` for any; the most specific rule wins
 * (exact, then from-any, then any-to, then any-any).
 */
import { assert } from '../pkg/index.js';

/** A link rule endpoint: a member id, or '*' for any member. */
export type LinkEnd = bigint | '*';

/** Faults on one directed link. */
export interface LinkFaults {
  /** Probability in [0, 1] that a message is dropped; default 0. */
  dropProbability?: number;
  /** Added delay in milliseconds before a message is written; default 0. */
  delayMs?: number;
}

const key = (from: LinkEnd, to: LinkEnd): string => `${from}>${to}`;

/** Runtime-switchable faults shared by transports; see the file comment for the semantics. */
export class FaultHooks {
  private readonly links = new Map<string, Required<LinkFaults>>();
  private readonly groupOf = new Map<bigint, number>();
  private readonly blockedLinks = new Set<string>();

  /** Sets (or with `{}` clears) the drop/delay faults of the link `from -> to`. */
  setLink(from: LinkEnd, to: LinkEnd, faults: LinkFaults): void {
    const drop = faults.dropProbability ?? 0;
    const delay = faults.delayMs ?? 0;
    assert(drop >= 0 && drop <= 1, 'dropProbability is in [0, 1]');
    assert(delay >= 0 && Number.isFinite(delay), 'delayMs is a finite non-negative number');
    if (drop === 0 && delay === 0) this.links.delete(key(from, to));
    else this.links.set(key(from, to), { dropProbability: drop, delayMs: delay });
  }

  /**
   * Splits the members into groups that cannot reach each other (replacing any earlier partition).
   * A member may appear in at most one group.
   */
  partition(...groups: bigint[][]): void {
    this.groupOf.clear();
    groups.forEach((g, i) => {
      for (const id of g) {
        assert(!this.groupOf.has(id), `member ${id} appears in two partition groups`);
        this.groupOf.set(id, i);
      }
    });
  }

  /** Cuts `id` off from every member in `all` (a partition {id} | rest). */
  isolate(id: bigint, all: readonly bigint[]): void {
    this.partition(
      [id],
      all.filter((x) => x !== id),
    );
  }

  /** Blocks one direction only, `from -> to` (asymmetric faults); undone by `heal()`. */
  blockLink(from: bigint, to: bigint): void {
    this.blockedLinks.add(key(from, to));
  }

  /** Removes the partition and every blocked link (drop/delay rules stay). */
  heal(): void {
    this.groupOf.clear();
    this.blockedLinks.clear();
  }

  /** Removes everything: partition, blocked links, drop and delay rules. */
  reset(): void {
    this.heal();
    this.links.clear();
  }

  /** Whether the link `from -> to` is cut by the partition or a blocked link. */
  blocked(from: bigint, to: bigint): boolean {
    if (this.blockedLinks.has(key(from, to))) return true;
    const a = this.groupOf.get(from);
    const b = this.groupOf.get(to);
    return a !== undefined && b !== undefined && a !== b;
  }

  /** The drop/delay faults in force on `from -> to` (zeros when none). */
  link(from: bigint, to: bigint): Required<LinkFaults> {
    return (
      this.links.get(key(from, to)) ??
      this.links.get(key(from, '*')) ??
      this.links.get(key('*', to)) ??
      this.links.get(key('*', '*')) ?? { dropProbability: 0, delayMs: 0 }
    );
  }
}
