/**
 * The nemesis: injects one fault at a time (or two from different groups at once, `combine`) on a
 * seeded schedule (quiet gap, fault held for a
 * while, heal, wait until every member is healthy again), recording each fault with its time span.
 * Fault groups take turns; within a group each kind comes once per round (see nextKind).
 *
 * Kinds, by group:
 * - process: `kill` / `kill-leader` (SIGKILL, then restart on the same data dir), `kill-majority`
 *            (two members: no quorum), `kill-all` (every member: only what is on disk survives),
 *            `kill-all-staggered` (every member, then restarted one at a time in a random order with
 *            a random delay of up to the hold before each start: the first waits alone for a quorum),
 *            `pause` / `pause-leader` (SIGSTOP, then SIGCONT: a frozen member).
 * - network (through each member's failpoint server, src/server/fault-control.ts):
 *            `partition-minority` (one member cut off from the other two),
 *            `partition-leader` (the leader isolated), `bridge` (two members cannot talk, the third
 *            talks to both), `one-way-leader` (the leader's outgoing messages lost, incoming kept),
 *            `flaky-links` (every link drops 20% of messages and delays the rest by 20-60 ms).
 * - disk:    `fsync-fail` (the member's next WAL fdatasync fails with EIO: it must stop, then the
 *            nemesis restarts it), `disk-full` (WAL writes fail with ENOSPC; restarted after);
 *            the store's (lmdb) `store-fsync-fail`, `store-disk-full` and `slow-disk` (nemesis-store.ts).
 * Clock jumps are not injected: the server measures lease TTLs, request deadlines and Raft ticks
 * with the monotonic clock (performance.now); Date.now only seeds request ids and member ids.
 */
import { connect } from '../helpers/index.js';
import { EXIT_FREE_FAULTS } from './checkers/exits.js';
import type { Cluster, ClusterMember } from './cluster.js';
import type { FaultRecord } from './history.js';
import { MEMBERSHIP_FAULTS, MembershipNemesis } from './nemesis-membership.js';
import { injectStoreFault, STORE_FAULTS } from './nemesis-store.js';
import type { Rng } from './rng.js';
import { now } from './workload.js';

export const FAULT_GROUPS: Record<string, string[]> = {
  process: [...EXIT_FREE_FAULTS],
  network: ['partition-minority', 'partition-leader', 'bridge', 'one-way-leader', 'flaky-links'],
  disk: ['fsync-fail', 'disk-full', ...STORE_FAULTS],
  membership: MEMBERSHIP_FAULTS,
};
export const ALL_FAULTS = Object.values(FAULT_GROUPS).flat();

/** Expands a list of groups and kinds ("process,disk,bridge") into fault kinds. */
export function parseFaults(spec: string): string[] {
  const out = new Set<string>();
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (part === 'all') for (const k of ALL_FAULTS) out.add(k);
    else if (FAULT_GROUPS[part]) for (const k of FAULT_GROUPS[part]) out.add(k);
    else if (ALL_FAULTS.includes(part)) out.add(part);
    else
      throw new Error(
        `unknown fault ${part} (groups: ${Object.keys(FAULT_GROUPS).join(', ')}; kinds: ${ALL_FAULTS.join(', ')})`,
      );
  }
  return [...out];
}

export interface NemesisOptions {
  faults: string[];
  rng: Rng;
  /** Quiet time between faults, ms (min, max). */
  gapMs: [number, number];
  /** How long a fault is held, ms (min, max). */
  holdMs: [number, number];
  /**
   * Inject faults two at a time, from two different groups, held over the same span (partition +
   * kill, pause + disk error, ...). Needs kinds from at least two groups.
   */
  combine?: boolean;
}

/** How long every member may take to be healthy again after a fault is healed. */
const RECOVERY_TIMEOUT_MS = 90_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sleeps up to `ms`, returning early when stopped (fault schedule pacing, not a condition wait). */
async function hold(ms: number, stopped: () => boolean): Promise<void> {
  const end = now() + ms;
  while (!stopped() && now() < end) await sleep(Math.min(100, end - now()));
}

const lastLogLine = (m: ClusterMember): string => m.log.trim().split('\n').pop() ?? '';

export class Nemesis {
  readonly faults: FaultRecord[] = [];
  /** Restarted members that exited on their own before becoming healthy (and were started again). */
  readonly exitedAtStart: string[] = [];
  /** Members that exited on their own (not killed by the nemesis) during the current round. */
  private roundExits: string[] = [];
  /** Member add/promote/remove/replace (nemesis-membership.ts). */
  readonly membership: MembershipNemesis;
  constructor(
    private readonly cluster: Cluster,
    private readonly o: NemesisOptions,
  ) {
    this.membership = new MembershipNemesis(cluster, o.rng, () => this.leader());
  }

  private get members(): ClusterMember[] {
    return this.cluster.members;
  }

  /** The current leader as seen by any live member, or a random member when none answers. */
  async leader(): Promise<ClusterMember> {
    for (const m of this.members) {
      if (!this.cluster.alive(m) || m.paused) continue;
      const c = connect(m.client);
      try {
        const s = await c.maintenance.status({}, { deadlineMs: 1500 });
        const l = this.members.find((x) => x.id === s.leader.toString());
        if (l && this.cluster.alive(l) && !l.paused) return l;
      } catch {
        // not answering: try the next one
      } finally {
        c.close();
      }
    }
    return this.o.rng.pick(this.members);
  }

  /**
   * The schedule: groups (process, network, disk) take turns, and within a group every enabled
   * kind comes once, in a seeded random order, before any comes again — so even a short run covers
   * every group, and a long one every kind.
   */
  private nextKind(): string {
    const groups = Object.entries(FAULT_GROUPS)
      .map(([g, kinds]) => [g, kinds.filter((k) => this.o.faults.includes(k))] as const)
      .filter(([, kinds]) => kinds.length > 0);
    const [group, kinds] = groups[this.turn++ % groups.length]!;
    let queue = this.queues.get(group);
    if (!queue || queue.length === 0) {
      queue = [...kinds];
      for (let i = queue.length - 1; i > 0; i--) {
        const j = this.o.rng.int(i + 1);
        [queue[i], queue[j]] = [queue[j]!, queue[i]!];
      }
      this.queues.set(group, queue);
    }
    return queue.shift()!;
  }

  private turn = 0;
  private readonly queues = new Map<string, string[]>();

  private others(m: ClusterMember): ClusterMember[] {
    return this.members.filter((x) => x !== m);
  }

  /** Runs the schedule until `stopped()`, then heals everything. */
  async run(stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      const [g0, g1] = this.o.gapMs;
      await hold(g0 + this.o.rng.int(g1 - g0 + 1), stopped);
      if (stopped() || this.o.faults.length === 0) break;
      // Consecutive nextKind() calls come from different groups (groups take turns).
      const kinds = this.o.combine ? [this.nextKind(), this.nextKind()] : [this.nextKind()];
      const [h0, h1] = this.o.holdMs;
      const holdMs = h0 + this.o.rng.int(h1 - h0 + 1);
      const start = now(); // shared by the faults of one round (checkers/exits.ts groups by it)
      const recs = kinds.map((kind): FaultRecord => ({ kind, detail: '', start }));
      this.roundExits = [];
      if (recs.length > 1)
        for (const r of recs) r.detail = `with ${kinds.filter((k) => k !== r.kind).join('+')}: `;
      this.faults.push(...recs);
      await Promise.all(
        recs.map(async (rec) => {
          try {
            rec.detail += await this.inject(rec.kind, holdMs, stopped);
          } catch (e) {
            rec.detail += ` (injection error: ${(e as Error).message})`;
          }
        }),
      );
      await this.healAll();
      for (const rec of recs) {
        rec.end = now();
        if (this.roundExits.length > 0) rec.exits = [...this.roundExits];
      }
    }
    await this.healAll();
  }

  private async inject(kind: string, holdMs: number, stopped: () => boolean): Promise<string> {
    const c = this.cluster;
    switch (kind) {
      case 'kill':
      case 'kill-leader': {
        const m = kind === 'kill' ? this.o.rng.pick(this.members) : await this.leader();
        await c.kill(m);
        await hold(holdMs, stopped);
        c.restart(m);
        return `SIGKILL ${m.name}, restarted after ${holdMs} ms`;
      }
      case 'kill-majority':
      case 'kill-all': {
        const victims = [...this.members]
          .sort(() => this.o.rng.next() - 0.5)
          .slice(0, kind === 'kill-all' ? 3 : 2);
        await Promise.all(victims.map((m) => c.kill(m)));
        await hold(holdMs, stopped);
        for (const m of victims) c.restart(m);
        return `SIGKILL ${victims.map((m) => m.name).join(', ')}, restarted after ${holdMs} ms`;
      }
      case 'kill-all-staggered': {
        const order = [...this.members].sort(() => this.o.rng.next() - 0.5);
        await Promise.all(order.map((m) => c.kill(m)));
        const delays: number[] = [];
        for (const m of order) {
          const delayMs = this.o.rng.int(holdMs + 1);
          delays.push(delayMs);
          await hold(delayMs, stopped);
          c.restart(m);
        }
        return `SIGKILL all, restarted ${order.map((m, i) => `${m.name} after ${delays[i]} ms`).join(', then ')}`;
      }
      case 'pause':
      case 'pause-leader': {
        const m = kind === 'pause' ? this.o.rng.pick(this.members) : await this.leader();
        c.pause(m);
        await hold(holdMs, stopped);
        c.resume(m);
        return `SIGSTOP ${m.name} for ${holdMs} ms`;
      }
      case 'partition-minority':
      case 'partition-leader': {
        const m = kind === 'partition-minority' ? this.o.rng.pick(this.members) : await this.leader();
        const groups = [[m.id], this.others(m).map((x) => x.id)];
        const errs = await c.failpointAll('/partition', { groups });
        await hold(holdMs, stopped);
        return `isolate ${m.name} for ${holdMs} ms${errs.length ? ` (${errs.join('; ')})` : ''}`;
      }
      case 'bridge': {
        const [a, b] = [...this.members].sort(() => this.o.rng.next() - 0.5);
        const errs: string[] = [];
        for (const m of [a!, b!])
          errs.push(...(await c.failpointAll('/block', { from: m.id, to: (m === a ? b : a)!.id })));
        await hold(holdMs, stopped);
        return `cut ${a!.name}<->${b!.name} (bridged by the third) for ${holdMs} ms${errs.length ? ` (${errs.join('; ')})` : ''}`;
      }
      case 'one-way-leader': {
        const l = await this.leader();
        const errs: string[] = [];
        for (const o of this.others(l))
          errs.push(...(await c.failpointAll('/block', { from: l.id, to: o.id })));
        await hold(holdMs, stopped);
        return `drop everything ${l.name} (leader) sends for ${holdMs} ms${errs.length ? ` (${errs.join('; ')})` : ''}`;
      }
      case 'flaky-links': {
        const delayMs = 20 + this.o.rng.int(41);
        const errs = await c.failpointAll('/link', { from: '*', to: '*', dropProbability: 0.2, delayMs });
        await hold(holdMs, stopped);
        return `all links drop 20% and delay ${delayMs} ms for ${holdMs} ms${errs.length ? ` (${errs.join('; ')})` : ''}`;
      }
      case 'fsync-fail':
      case 'disk-full': {
        const m = this.o.rng.next() < 0.5 ? await this.leader() : this.o.rng.pick(this.members);
        await c.failpoint(m, '/wal', kind === 'fsync-fail' ? { failFsync: 'EIO' } : { diskFull: true });
        let fired = 0;
        const end = now() + holdMs;
        while (!stopped() && now() < end && fired === 0) {
          await sleep(100);
          // A member whose disk failed exits, as etcd does: then the fault fired.
          fired = !c.alive(m)
            ? 1
            : (
                (await c.failpoint(m, '/status').catch(() => ({ walFaultsFired: 0 }))) as {
                  walFaultsFired: number;
                }
              ).walFaultsFired;
        }
        // A member whose disk failed exits (as etcd does); a supervisor (here the nemesis) restarts it.
        await hold(Math.max(0, end - now()), stopped);
        await c.kill(m);
        c.restart(m);
        return `${kind === 'fsync-fail' ? 'fdatasync EIO' : 'ENOSPC on write'} on ${m.name}: ${fired > 0 ? 'fired' : 'did not fire'}; restarted`;
      }
      default:
        if (STORE_FAULTS.includes(kind))
          return injectStoreFault(kind, c, this.o.rng, () => this.leader(), holdMs, stopped);
        if (MEMBERSHIP_FAULTS.includes(kind)) return this.membership.inject(kind);
        throw new Error(`unknown fault ${kind}`);
    }
  }

  /** SIGCONT every paused member, restart dead ones, clear failpoints, wait until all are healthy. */
  async healAll(): Promise<void> {
    const c = this.cluster;
    for (const m of this.members) c.resume(m);
    for (const m of this.members) {
      if (c.alive(m)) continue;
      // Every member the nemesis kills it has restarted by now: one not running exited on its own.
      this.roundExits.push(`${m.name} (before healing): ${lastLogLine(m)}`);
      c.restart(m);
    }
    await c.failpointAll('/reset');
    try {
      for (const m of this.members) {
        // A restarted member without a leader waits for one, as etcd does; one that exits on its
        // own anyway (a disk fault at start) is started again, as a supervisor would, and counted.
        for (let attempt = 0; ; attempt++) {
          try {
            await c.waitHealthy(m, RECOVERY_TIMEOUT_MS);
            break;
          } catch (e) {
            if (c.alive(m) || attempt >= 3) throw e;
            this.exitedAtStart.push(`${m.name}: ${lastLogLine(m)}`);
            this.roundExits.push(`${m.name} (while healing): ${lastLogLine(m)}`);
            c.restart(m);
          }
        }
      }
    } catch (e) {
      throw new Error(
        `the cluster did not recover after healing: ${(e as Error).message.split('\n')[0]}\n${await this.diagnose()}`,
      );
    }
  }

  /** Every member's view (status) and log tail, for a cluster that does not recover. */
  async diagnose(): Promise<string> {
    const out: string[] = [`faults so far: ${this.faults.map((f) => `${f.kind}: ${f.detail}`).join(' | ')}`];
    for (const m of this.members) {
      let status = 'no answer';
      const cl = connect(m.client);
      try {
        const s = await cl.maintenance.status({}, { deadlineMs: 2000 });
        status = `leader ${s.leader} term ${s.raftTerm} index ${s.raftIndex} applied ${s.raftAppliedIndex} errors ${s.errors.join(';')}`;
      } catch (e) {
        status = `status failed: ${(e as Error).message}`;
      } finally {
        cl.close();
      }
      out.push(
        `--- ${m.name} id ${m.id} alive=${this.cluster.alive(m)} paused=${m.paused} incarnation ${m.incarnation}: ${status}\n${m.log.slice(-6000)}`,
      );
    }
    return out.join('\n');
  }
}
