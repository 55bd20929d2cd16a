/**
 * An Elle-style checker for list-append transactions (Kingsbury & Alvaro, "Elle: Inferring
 * Isolation Anomalies from Experimental Observations", VLDB 2020), for strict serializability.
 *
 * Each key holds a list; a transaction is a sequence of micro-ops, `append(k, v)` (v unique per key)
 * and `read(k) -> list`. Because every append is unique and lists only grow, the longest list read
 * of a key *is* that key's version order, and every read reveals which append it saw last. From that:
 *
 *   ww  T1 -> T2   T2 appended the element right after T1's element of some key
 *   wr  T1 -> T2   T2 read a list whose last element T1 appended
 *   rw  T1 -> T2   T1 read a list whose next element (in the version order) T2 appended
 *   rt  T1 -> T2   T1 completed before T2 was invoked (real time; strict serializability)
 *
 * A cycle in this graph is an anomaly, named by its edges: only ww = G0; ww+wr = G1c; exactly one rw
 * = G-single; more rw = G2; a cycle that needs an rt edge gets the suffix "-realtime". Anomalies seen
 * without a cycle: a read of an element no one appended (garbage), of an element appended only by a
 * failed transaction (G1a, aborted read), reads of one key that are not prefixes of each other
 * (incompatible-order), and an element twice in one list (duplicate).
 *
 * Transactions with an unknown outcome take part only if something they wrote was observed (then
 * they committed); the rest are left out, which can hide an anomaly but never invent one.
 */
import type { CheckResult, Outcome, Violation } from '../history.js';

export type MicroOp =
  | { f: 'append'; key: string; value: number }
  | { f: 'read'; key: string; value?: number[] };

export interface ListTxn {
  id: number;
  /** Monotonic ms. */
  invoke: number;
  /** Undefined when the outcome is unknown. */
  complete?: number;
  outcome: Outcome;
  ops: MicroOp[];
}

type EdgeKind = 'ww' | 'wr' | 'rw' | 'rt';

interface Edge {
  to: number;
  kind: EdgeKind;
  why: string;
}

const CHECKER = 'elle-list-append';

export function checkListAppend(txns: readonly ListTxn[]): CheckResult {
  const violations: Violation[] = [];
  const v = (kind: string, detail: string) => violations.push({ checker: CHECKER, kind, detail });
  const byId = new Map(txns.map((t) => [t.id, t]));

  // Who appended what: (key, value) -> txn id; values appended by failed txns kept apart.
  const writer = new Map<string, number>();
  const failedWriter = new Map<string, number>();
  const kv = (key: string, value: number) => `${key}\u0000${value}`;
  for (const t of txns) {
    for (const op of t.ops) {
      if (op.f !== 'append') continue;
      (t.outcome === 'fail' ? failedWriter : writer).set(kv(op.key, op.value), t.id);
    }
  }

  // Version order per key: the longest read; every other read must be a prefix of it.
  const order = new Map<string, number[]>();
  for (const t of txns) {
    if (t.outcome !== 'ok') continue;
    for (const op of t.ops) {
      if (op.f !== 'read' || !op.value) continue;
      const seen = new Set<number>();
      for (const x of op.value) {
        if (seen.has(x)) v('duplicate', `T${t.id} read ${op.key} = [${op.value}]: ${x} twice`);
        seen.add(x);
      }
      const longest = order.get(op.key);
      if (!longest || op.value.length > longest.length) order.set(op.key, op.value);
    }
  }
  // Reads that contradict the order say nothing reliable about dependencies: left out of the graph.
  const incompatible = new Set<MicroOp>();
  for (const t of txns) {
    if (t.outcome !== 'ok') continue;
    for (const op of t.ops) {
      if (op.f !== 'read' || !op.value) continue;
      const longest = order.get(op.key) ?? [];
      if (op.value.some((x, i) => longest[i] !== x)) {
        incompatible.add(op);
        v('incompatible-order', `T${t.id} read ${op.key} = [${op.value}], not a prefix of [${longest}]`);
      }
    }
  }

  // Unknown-outcome txns whose writes were observed committed; the rest are not in the graph.
  const committed = new Set<number>();
  for (const t of txns) if (t.outcome === 'ok') committed.add(t.id);
  for (const [key, list] of order) {
    for (const x of list) {
      const w = writer.get(kv(key, x));
      if (w !== undefined) committed.add(w);
      else if (failedWriter.has(kv(key, x))) {
        v('G1a', `${key} holds ${x}, appended only by T${failedWriter.get(kv(key, x))}, which failed`);
      } else v('garbage', `${key} holds ${x}, which no transaction appended`);
    }
  }

  // The graph.
  const edges = new Map<number, Edge[]>();
  const addEdge = (from: number, to: number, kind: EdgeKind, why: string) => {
    if (from === to || !committed.has(from) || !committed.has(to)) return;
    const list = edges.get(from);
    if (list) list.push({ to, kind, why });
    else edges.set(from, [{ to, kind, why }]);
  };
  for (const [key, list] of order) {
    for (let i = 1; i < list.length; i++) {
      const a = writer.get(kv(key, list[i - 1] as number));
      const b = writer.get(kv(key, list[i] as number));
      if (a !== undefined && b !== undefined) addEdge(a, b, 'ww', `${key}: ${list[i - 1]} then ${list[i]}`);
    }
  }
  for (const t of txns) {
    if (t.outcome !== 'ok') continue;
    for (const op of t.ops) {
      if (op.f !== 'read' || !op.value || incompatible.has(op)) continue;
      const full = order.get(op.key) ?? [];
      const last = op.value[op.value.length - 1];
      if (last !== undefined) {
        const w = writer.get(kv(op.key, last));
        if (w !== undefined) addEdge(w, t.id, 'wr', `${op.key}: T${t.id} read up to ${last}`);
      }
      const next = full[op.value.length];
      if (next !== undefined) {
        const w = writer.get(kv(op.key, next));
        if (w !== undefined) addEdge(t.id, w, 'rw', `${op.key}: T${t.id} read [${op.value}] before ${next}`);
      }
    }
  }
  // Real-time edges, transitively reduced: each txn links from the completed txns not already
  // ordered before another completed txn that precedes it.
  const events: { at: number; t: ListTxn; end: boolean }[] = [];
  for (const t of txns) {
    if (!committed.has(t.id)) continue;
    events.push({ at: t.invoke, t, end: false });
    if (t.complete !== undefined) events.push({ at: t.complete, t, end: true });
  }
  events.sort((a, b) => a.at - b.at || (a.end === b.end ? 0 : a.end ? -1 : 1));
  let frontier = new Set<number>();
  const before = new Map<number, Set<number>>();
  for (const e of events) {
    if (!e.end) {
      before.set(e.t.id, new Set(frontier));
      for (const p of frontier) addEdge(p, e.t.id, 'rt', `T${p} completed before T${e.t.id} began`);
    } else {
      const preds = before.get(e.t.id) ?? new Set<number>();
      frontier = new Set([...frontier].filter((p) => !preds.has(p)));
      frontier.add(e.t.id);
    }
  }

  // Cycles: one pass per anomaly, weakest first; each pass needs a cycle with its own edge mix.
  const reported = new Set<string>();
  const passes: { name: string; kinds: EdgeKind[]; accept: (c: Counts) => boolean }[] = [
    { name: 'G0', kinds: ['ww'], accept: () => true },
    { name: 'G1c', kinds: ['ww', 'wr'], accept: (c) => c.wr > 0 },
    { name: 'G-single', kinds: ['ww', 'wr', 'rw'], accept: (c) => c.rw === 1 },
    { name: 'G2', kinds: ['ww', 'wr', 'rw'], accept: (c) => c.rw >= 2 },
    { name: 'G1c-realtime', kinds: ['ww', 'wr', 'rt'], accept: (c) => c.rt > 0 },
    { name: 'G-single-realtime', kinds: ['ww', 'wr', 'rw', 'rt'], accept: (c) => c.rt > 0 && c.rw === 1 },
    { name: 'G2-realtime', kinds: ['ww', 'wr', 'rw', 'rt'], accept: (c) => c.rt > 0 && c.rw >= 2 },
  ];
  for (const pass of passes) {
    const allowed = new Set(pass.kinds);
    for (const scc of stronglyConnected(committed, edges, allowed)) {
      const cycle = findCycle(scc, edges, allowed, pass.accept);
      if (!cycle) continue;
      const key = cycle
        .map((e) => e.from)
        .sort((a, b) => a - b)
        .join(',');
      if (reported.has(key)) continue;
      reported.add(key);
      const text = cycle.map((e) => `T${e.from} -${e.kind}-> T${e.to} (${e.why})`).join('; ');
      const txnText = cycle.map((e) => describeTxn(byId.get(e.from))).join(' | ');
      v(pass.name, `cycle ${text}; transactions: ${txnText}`);
    }
  }

  return { checker: CHECKER, violations, undecided: [], checked: txns.length };
}

function describeTxn(t: ListTxn | undefined): string {
  if (!t) return '?';
  const ops = t.ops
    .map((o) =>
      o.f === 'append' ? `a(${o.key},${o.value})` : `r(${o.key},${o.value ? `[${o.value}]` : '?'})`,
    )
    .join(' ');
  return `T${t.id} ${t.outcome} [${ops}]`;
}

/** Tarjan's strongly connected components of size > 1 over the allowed edge kinds. */
function stronglyConnected(
  nodes: Set<number>,
  edges: Map<number, Edge[]>,
  allowed: Set<EdgeKind>,
): Set<number>[] {
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const out: Set<number>[] = [];
  let next = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    // iterative DFS: frames of (node, edge position)
    const frames: [number, number][] = [[root, 0]];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as [number, number];
      const [node, pos] = frame;
      const list = (edges.get(node) ?? []).filter((e) => allowed.has(e.kind));
      if (pos < list.length) {
        frame[1]++;
        const to = (list[pos] as Edge).to;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          frames.push([to, 0]);
        } else if (onStack.has(to)) {
          low.set(node, Math.min(low.get(node) as number, index.get(to) as number));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0]) as number, low.get(node) as number));
      if (low.get(node) === index.get(node)) {
        const comp = new Set<number>();
        for (;;) {
          const x = stack.pop() as number;
          onStack.delete(x);
          comp.add(x);
          if (x === node) break;
        }
        if (comp.size > 1) out.push(comp);
      }
    }
  }
  return out;
}

interface Counts {
  rw: number;
  wr: number;
  rt: number;
}

interface Step {
  from: number;
  to: number;
  kind: EdgeKind;
  why: string;
}

/**
 * A short cycle inside `scc` that `accept` takes, by breadth-first search over (node, edge counts):
 * rw counted up to 2, wr and rt up to 1, which is all the passes ask about.
 */
function findCycle(
  scc: Set<number>,
  edges: Map<number, Edge[]>,
  allowed: Set<EdgeKind>,
  accept: (c: Counts) => boolean,
): Step[] | undefined {
  const stateKey = (node: number, c: Counts) => `${node}:${c.rw}:${c.wr}:${c.rt}`;
  for (const start of scc) {
    const zero: Counts = { rw: 0, wr: 0, rt: 0 };
    const prev = new Map<string, { key: string; step: Step }>();
    const queue: [number, Counts][] = [[start, zero]];
    const seen = new Set<string>([stateKey(start, zero)]);
    while (queue.length > 0) {
      const [node, c] = queue.shift() as [number, Counts];
      for (const e of edges.get(node) ?? []) {
        if (!allowed.has(e.kind) || !scc.has(e.to)) continue;
        const c2: Counts = {
          rw: Math.min(2, c.rw + (e.kind === 'rw' ? 1 : 0)),
          wr: Math.min(1, c.wr + (e.kind === 'wr' ? 1 : 0)),
          rt: Math.min(1, c.rt + (e.kind === 'rt' ? 1 : 0)),
        };
        const step: Step = { from: node, to: e.to, kind: e.kind, why: e.why };
        if (e.to === start) {
          if (!accept(c2)) continue;
          const cycle = [step];
          let cur = stateKey(node, c);
          while (cur !== stateKey(start, zero)) {
            const p = prev.get(cur);
            if (!p) break;
            cycle.unshift(p.step);
            cur = p.key;
          }
          return cycle;
        }
        const k = stateKey(e.to, c2);
        if (seen.has(k)) continue;
        seen.add(k);
        prev.set(k, { key: stateKey(node, c), step });
        queue.push([e.to, c2]);
      }
    }
  }
  return undefined;
}
