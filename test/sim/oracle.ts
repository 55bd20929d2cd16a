/**
 * The simulators' safety oracle for what members apply: one record of every entry applied
 * anywhere, by index, and the hash chain of the applied sequence after each. A member's state
 * machine is summarised as `(applied, hash)`, so a snapshot or a store copied from another member
 * is checked by the same comparison as an entry applied one by one.
 *
 * It checks state machine safety (no two members apply different entries at one index; a replayed
 * entry that a store already holds is the entry it holds) and election safety (one leader per
 * term). Raft-log checks that need the core's log stay with each simulator.
 */
import type { NodeId } from '../../src/raft/index.js';

/** A state machine: the index of the last entry applied and the hash chain up to it. */
export interface SmState {
  applied: number;
  hash: number;
}

/** FNV-1a of `s` continuing from `h`: one link of the applied-sequence hash chain. */
export function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Records what was applied and checks every new observation against it; `fail` throws. */
export class ApplyOracle {
  /** Applied entries by index ("term|data key") and the hash chain after each; index 0 is empty. */
  readonly appliedAt: string[] = [''];
  private readonly chainAt: number[] = [0];
  /** The name of every normal entry applied anywhere -> its index (acknowledged writes). */
  readonly appliedData = new Map<string, number>();
  private readonly leaderOfTerm = new Map<number, NodeId>();

  constructor(private readonly fail: (why: string) => never) {}

  /** The highest index applied anywhere. */
  get lastApplied(): number {
    return this.appliedAt.length - 1;
  }

  /**
   * Member `who` applies the entry `key` ("term|data") at `sm.applied + 1`; returns its new state.
   * `name` names a client write (recorded as acknowledged).
   */
  apply(who: string, sm: SmState, index: number, key: string, name?: string): SmState {
    if (index !== sm.applied + 1) this.fail(`${who} applies ${index} after ${sm.applied}`);
    const prev = this.appliedAt[index];
    if (prev === undefined) {
      if (index !== this.appliedAt.length) this.fail(`oracle gap at ${index}`);
      this.appliedAt.push(key);
      this.chainAt.push(fnv(sm.hash, key));
      if (name !== undefined) this.appliedData.set(name, index);
    } else if (prev !== key) {
      this.fail(`state machine safety: ${who} applies ${key} at ${index}, another member applied ${prev}`);
    }
    const next = { applied: index, hash: fnv(sm.hash, key) };
    this.check(who, next, 'apply');
    return next;
  }

  /** A state machine reached by any route (restart, snapshot, copied store) matches the record. */
  check(who: string, sm: SmState, where: string): void {
    const want = this.chainAt[sm.applied];
    if (want !== undefined && want !== sm.hash) {
      this.fail(`state machine safety (${where}): ${who} state at ${sm.applied} differs from the oracle`);
    }
  }

  /** An entry handed out again that the store already holds must be the entry it applied. */
  checkReplayed(who: string, index: number, key: string): void {
    const had = this.appliedAt[index];
    if (had !== key) {
      this.fail(`state machine safety: ${who} was handed ${key} at ${index}, but its store applied ${had}`);
    }
  }

  /** Election safety: at most one leader per term. */
  onLeader(id: NodeId, term: number): void {
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== id) this.fail(`two leaders in term ${term}: ${other} and ${id}`);
    this.leaderOfTerm.set(term, id);
  }
}
