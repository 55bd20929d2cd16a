/**
 * A general linearizability checker in the style of Wing & Gong / Lowe / Porcupine, independent of
 * the revisions the server reports: per key (linearizability is compositional, and every workload
 * operation touches one key) it searches for an order of the operations that respects real time
 * and the sequential model of a register with put, get, delete and compare-and-swap.
 *
 * Search: depth-first over "which pending operation takes effect next". An operation may be next
 * iff it was invoked no later than the earliest completion among the operations not yet placed.
 * Visited (placed-set, register value) pairs are memoized, so each configuration is explored once.
 * Unknown-outcome writes have no completion: they may be placed at any point after their
 * invocation, and the search succeeds once every completed operation is placed (an unknown write
 * left over is one that never took effect, or took effect after everything observed). Definitely
 * failed writes and failed reads are left out; serializable reads are not linearizable by design.
 * The search is bounded: a key whose search exceeds the budget is reported undecided, not passed.
 */
import type { CheckResult, History, KvOp, Violation } from '../history.js';
import { describeOp } from '../history.js';

/** The register's state: its value, or null when the key is absent. */
type Value = string | null;

/** Applies `o` to `s`: the next state, or undefined when `o`'s recorded result is impossible in `s`. */
function step(o: KvOp, s: Value): Value | undefined {
  const known = o.outcome === 'ok';
  switch (o.type) {
    case 'put':
      return o.value!;
    case 'get': {
      const seen = o.read === null || o.read === undefined ? null : o.read.value;
      return seen === s ? s : undefined;
    }
    case 'delete':
      if (known && o.deleted !== (s === null ? 0 : 1)) return undefined;
      return null;
    case 'cas': {
      const match = s !== null && s === o.expect;
      if (known && o.succeeded !== match) return undefined;
      return match ? o.value! : s;
    }
  }
}

export interface WglOptions {
  /** Most configurations explored per key before giving up (undecided). */
  maxStates?: number;
}

/** Result for one key: linearizable, not, or undecided (budget). */
export type KeyVerdict = { ok: true } | { ok: false; detail: string } | { ok: 'unknown'; detail: string };

export function checkKey(opsIn: KvOp[], opts: WglOptions = {}): KeyVerdict {
  const maxStates = opts.maxStates ?? 2_000_000;
  const ops = opsIn
    .filter((o) => (o.type === 'get' ? o.outcome === 'ok' && !o.serializable : o.outcome !== 'fail'))
    .sort((a, b) => a.invoke - b.invoke);
  const n = ops.length;
  if (n === 0) return { ok: true };
  const complete = ops.map((o) => (o.outcome === 'ok' ? o.complete! : Number.POSITIVE_INFINITY));
  const mustPlace = ops.reduce((c, o) => c + (o.outcome === 'ok' ? 1 : 0), 0);
  const placed = new Uint8Array(n);
  const visited = new Set<string>();
  let placedOk = 0;
  let states = 0;
  let deepest = 0;
  let deepestFrontier = '';

  // Iterative DFS: each frame remembers the state before it and which candidate it tries next.
  const stack: { state: Value; next: number; took: number }[] = [{ state: null, next: 0, took: -1 }];
  // The first unplaced index, to skip the placed prefix quickly.
  const firstUnplaced = () => {
    let i = 0;
    while (i < n && placed[i]) i++;
    return i;
  };
  const keyOf = (s: Value) => {
    let bits = '';
    for (let i = 0; i < n; i += 15) {
      let w = 0;
      for (let j = i; j < Math.min(n, i + 15); j++) if (placed[j]) w |= 1 << (j - i);
      bits += String.fromCharCode(w + 32);
    }
    return `${bits}|${s ?? '\u0000'}`;
  };
  visited.add(keyOf(null));
  while (stack.length > 0) {
    if (placedOk === mustPlace) return { ok: true };
    const top = stack[stack.length - 1]!;
    const lo = firstUnplaced();
    let minComplete = Number.POSITIVE_INFINITY;
    for (let i = lo; i < n; i++) if (!placed[i] && complete[i]! < minComplete) minComplete = complete[i]!;
    let advanced = false;
    for (let i = Math.max(top.next, lo); i < n; i++) {
      if (ops[i]!.invoke > minComplete) break; // sorted by invoke: nothing later can go next
      if (placed[i]) continue;
      const nextState = step(ops[i]!, top.state);
      if (nextState === undefined) continue;
      placed[i] = 1;
      const k = keyOf(nextState);
      if (visited.has(k)) {
        placed[i] = 0;
        continue;
      }
      visited.add(k);
      if (++states > maxStates)
        return {
          ok: 'unknown',
          detail: `search budget of ${maxStates} configurations exceeded (${n} operations)`,
        };
      top.next = i + 1;
      if (ops[i]!.outcome === 'ok') placedOk++;
      stack.push({ state: nextState, next: 0, took: i });
      if (placedOk > deepest) {
        deepest = placedOk;
        const pending = ops.filter((_, j) => !placed[j] && ops[j]!.outcome === 'ok').slice(0, 4);
        deepestFrontier = `state ${nextState ?? 'absent'} after placing ${placedOk}/${mustPlace} completed ops; cannot place next: ${pending
          .map(describeOp)
          .join('; ')}`;
      }
      advanced = true;
      break;
    }
    if (!advanced) {
      stack.pop();
      if (top.took >= 0) {
        placed[top.took] = 0;
        if (ops[top.took]!.outcome === 'ok') placedOk--;
      }
    }
  }
  return { ok: false, detail: deepestFrontier || 'no operation can be linearized first' };
}

export function checkWgl(h: History, opts: WglOptions = {}): CheckResult {
  const checker = 'linearizable-wgl';
  const violations: Violation[] = [];
  const undecided: string[] = [];
  const byKey = new Map<string, KvOp[]>();
  for (const o of h.ops) {
    const l = byKey.get(o.key);
    if (l) l.push(o);
    else byKey.set(o.key, [o]);
  }
  let checked = 0;
  for (const [key, ops] of byKey) {
    const r = checkKey(ops, opts);
    if (r.ok === true) checked++;
    else if (r.ok === false)
      violations.push({ checker, kind: 'not-linearizable', detail: `${key}: ${r.detail}` });
    else undecided.push(`${key}: ${r.detail}`);
  }
  return { checker, violations, undecided, checked };
}
