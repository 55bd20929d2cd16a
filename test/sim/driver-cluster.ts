/**
 * The driver simulator: N production `RaftDriver`s (src/server/raft-driver.ts) in one process, each
 * over its own fault-injecting WAL file system (src/wal/fs-faulty.ts: a power cut keeps a random
 * subset of the sectors written since the last fdatasync) and one shared `ManualClock`, so the
 * driver's own Ready loop — apply-early, persist, send, apply, snapshot install, WAL release — is
 * what runs, not a copy of it. One seed drives every choice: cluster size, message loss, delay,
 * duplication, partitions, crashes at the driver's named crash points (RAFT_FAILPOINTS) and inside
 * an fdatasync, fsync errors, restarts, membership changes, leadership transfers, local snapshots.
 *
 * Each member's store (what `Member` keeps in lmdb) is modelled as the simulator's state machine
 * `(applied, hash)`: it applies what the driver hands it, skips entries at or below its applied
 * index (the consistent index, as Member does), is made durable by `prepareSnapshot`, is replaced
 * by the leader's store when a snapshot is installed, and after a crash keeps a prefix of what it
 * applied since its last sync (lmdb without sync loses the newest transactions, never a middle one).
 *
 * Checked as the run goes: election safety; leader completeness (a new leader's log holds every
 * entry applied anywhere); state machine safety (ApplyOracle: the same entry at each index on every
 * member, including entries handed out again after a restart, which must equal what the store
 * already holds — an acknowledged write lost by a crash and replaced by another shows up here);
 * ReadIndex answers are never below the highest commit known when the read was issued. Liveness:
 * after the chaos the network heals, crashed members restart, every write that was never applied is
 * retried and a fresh one proposed, and within a bound all must be applied by every member, which
 * must then converge.
 *
 * Determinism: the driver's timers run on the ManualClock; its `setImmediate` turns and the SimFs's
 * promise turns are ordered by the event loop, which the simulator drains (until every driver is
 * idle) between steps. No real I/O or timer is involved, so a seed replays exactly.
 */
import { ManualClock } from '../../src/pkg/clock.js';
import { SeededRng } from '../../src/pkg/rng.js';
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  decodeMessage,
  type Message,
  MessageType,
  type NodeId,
  type Snapshot,
} from '../../src/raft/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { RAFT_FAILPOINTS, RaftDriver, type RaftFailpoint } from '../../src/server/raft-driver.js';
import { SimFs, type WalFile, type WalFs } from '../../src/wal/index.js';
import type { ChaosActions, ChaosOptions, ChaosStats, InFlight } from './chaos.js';
import { drawChaos, drawPartition, fmtConf, inFlight, pick, Trace, zeroStats } from './chaos.js';
import { ApplyOracle, type SmState } from './oracle.js';

/** The knobs of one run, all derived from the seed unless overridden. */
export interface DriverSimOptions extends ChaosOptions {
  /** Crash points armed in this run; each fires with `failpointRate` when a driver passes it. */
  failpoints: RaftFailpoint[];
  failpointRate: number;
  /** Probability that a WAL fdatasync is a power cut (the member dies inside it). */
  syncCrashRate: number;
  /** Probability that a WAL fdatasync fails with EIO (the member must stop). */
  fsyncErrorRate: number;
  /** The driver's snapshotCount, snapshotCatchUpEntries and WAL segment size. */
  snapshotCount: number;
  catchUpEntries: number;
  walSegmentBytes: number;
  electionTicks: number;
}

/** Crash points passed only on snapshots: armed ones fire 20 times as often, so sweeps reach them. */
const RARE_POINTS: ReadonlySet<RaftFailpoint> = new Set([
  'raftBeforeApplySnap',
  'raftAfterApplySnap',
  'raftAfterSaveSnap',
  'raftAfterWALRelease',
]);

/** One Raft tick, ms on the simulated clock (etcd's --heartbeat-interval). */
const HEARTBEAT_MS = 100;

/** Chooses the options of a seed. */
export function driverOptionsForSeed(
  seed: number,
  overrides: Partial<DriverSimOptions> = {},
): DriverSimOptions {
  const r = new SeededRng(seed ^ 0xd21e);
  const chaos = r.next() < 0.85;
  const roundsPerTick = pick(r, [4, 5, 10]);
  const electionTicks = pick(r, [5, 10]);
  const snapshotCount = pick(r, [5, 10, 30, 1000]);
  // A few crash points per run, so each run spends its crashes on them.
  const failpoints = RAFT_FAILPOINTS.filter(() => r.next() < 0.4);
  return {
    seed,
    voters: pick(r, [1, 3, 3, 3, 5]),
    chaosTicks: 100 + r.int(100),
    livenessTicks: 150,
    roundsPerTick,
    dropRate: chaos ? pick(r, [0, 0.02, 0.05, 0.1]) : 0,
    dupRate: chaos ? pick(r, [0, 0.02, 0.05]) : 0,
    maxDelayRounds: Math.min(pick(r, [1, 2, 4, 8]), Math.floor((roundsPerTick * electionTicks) / 4)),
    proposeRate: pick(r, [0.3, 0.6, 1, 2]),
    readRate: pick(r, [0, 0.1, 0.3]),
    crashRate: chaos ? pick(r, [0, 0.005, 0.02]) : 0,
    restartRate: pick(r, [0.05, 0.2]),
    partitionRate: chaos ? pick(r, [0, 0.01, 0.03]) : 0,
    healRate: pick(r, [0.05, 0.2]),
    confChangeRate: r.next() < 0.4 ? pick(r, [0.01, 0.03]) : 0,
    transferRate: r.next() < 0.3 ? pick(r, [0.01, 0.03]) : 0,
    leaderFaultRate: chaos ? pick(r, [0, 0.01, 0.03]) : 0,
    failpoints,
    failpointRate: chaos && failpoints.length > 0 ? pick(r, [0.002, 0.01, 0.03]) : 0,
    syncCrashRate: chaos ? pick(r, [0, 0, 0.002, 0.01]) : 0,
    fsyncErrorRate: chaos ? pick(r, [0, 0, 0, 0.002]) : 0,
    snapshotCount,
    catchUpEntries: pick(r, [0, 2, 10]),
    walSegmentBytes: pick(r, [4096, 16384, 1 << 20]),
    electionTicks,
    traceSize: 200,
    verbose: false,
    ...overrides,
  };
}

/** What a run observed; summed across seeds by the sweep and the test. */
export interface DriverSimStats extends ChaosStats {
  /** Crashes at a named crash point of the Ready loop, and inside a WAL fdatasync. */
  failpointCrashes: number;
  syncCrashes: number;
  fsyncErrors: number;
  restarts: number;
  snapshotsInstalled: number;
}

/** A safety or liveness violation, carrying the seed and a one-line repro. */
export class DriverSimFailure extends Error {
  override name = 'DriverSimFailure';
}

/** Thrown from a crash point to kill a member there (the driver reports it to onFatal). */
class SimCrash extends Error {
  override name = 'SimCrash';
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function errno(code: string, path: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: a dead incarnation touched '${path}'`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/**
 * One incarnation's view of a member's disk: after a crash every operation of the dead process
 * fails (EBADF), so a driver that is still unwinding cannot touch its successor's files.
 */
function incarnationFs(inner: WalFs, alive: () => boolean): WalFs {
  const live = <T>(path: string, f: () => Promise<T>): Promise<T> =>
    alive() ? f() : Promise.reject(errno('EBADF', path));
  const file = (path: string, h: WalFile): WalFile => ({
    write: (b, o, l, p) => live(path, () => h.write(b, o, l, p)),
    read: (b, o, l, p) => live(path, () => h.read(b, o, l, p)),
    datasync: () => live(path, () => h.datasync()),
    ...(h.datasyncNow
      ? {
          datasyncNow: () => {
            if (!alive()) throw errno('EBADF', path);
            h.datasyncNow!();
          },
        }
      : {}),
    truncate: (n) => live(path, () => h.truncate(n)),
    size: () => live(path, () => h.size()),
    close: () => h.close(),
  });
  return {
    openReadWrite: (p) => live(p, async () => file(p, await inner.openReadWrite(p))),
    create: (p) => live(p, async () => file(p, await inner.create(p))),
    readFile: (p) => live(p, () => inner.readFile(p)),
    readdir: (p) => live(p, () => inner.readdir(p)),
    mkdirp: (p) => live(p, () => inner.mkdirp(p)),
    rename: (a, b) => live(a, () => inner.rename(a, b)),
    unlink: (p) => live(p, () => inner.unlink(p)),
    fsyncDir: (p) => live(p, () => inner.fsyncDir(p)),
    exists: (p) => live(p, () => inner.exists(p)),
  };
}

/** One simulated member: its disk (SimFs) and durable store survive crashes, nothing else does. */
class SimMember {
  driver: RaftDriver | null = null;
  /** Bumped by every crash and stop: callbacks of an older incarnation are ignored. */
  gen = 0;
  opening = false;
  /** Stopped for good (removed from the cluster). */
  retired = false;
  restarts = 0;
  /** The store: its current state, and every state since its last sync (first = durable). */
  store: SmState = { applied: 0, hash: 0 };
  storeHistory: SmState[] = [{ applied: 0, hash: 0 }];
  /** The database that came with the last MsgSnap delivered here (Member's incoming dir). */
  incomingDb: SmState | undefined;
  /** Membership as this member last applied it. */
  confState: ConfState = { voters: [], learners: [] };
  readonly fs: SimFs;

  constructor(
    readonly id: NodeId,
    /** Started with the founding cluster (bootstraps) rather than added later (joins). */
    readonly founding: boolean,
    seed: number,
  ) {
    this.fs = new SimFs(new SeededRng(seed));
    // About a third of the members let the WAL take its inline fdatasync for one-entry batches (no crash
    // can land inside that one); the others keep every fdatasync asynchronous and crashable.
    this.fs.inlineSync = seed % 3 === 0;
  }

  get label(): string {
    return `m${this.id}`;
  }
}

interface SnapInFlight extends InFlight {
  /** A MsgSnap carries the sender's store as it was when sent (Member streams its database). */
  db?: SmState;
}

/** The simulator; `run()` executes one seed and rejects with DriverSimFailure on a violation. */
export class DriverSim implements ChaosActions {
  readonly o: DriverSimOptions;
  private readonly rng: SeededRng;
  private readonly clock = new ManualClock();
  readonly members = new Map<NodeId, SimMember>();
  private net: SnapInFlight[] = [];
  private round = 0;
  private tickNo = 0;
  private nextId: bigint;
  private group = new Map<NodeId, number>();
  private readonly trace: Trace;
  private readonly oracle: ApplyOracle;
  /** Crashes per named crash point of the driver (the sweep checks every point was reached). */
  readonly crashesAt = new Map<RaftFailpoint, number>();
  /** The first violation seen inside a callback; thrown by the main loop after the step. */
  private violation: DriverSimFailure | undefined;
  private latestConf: { index: number; cs: ConfState };
  private proposalSeq = 0;
  private readSeq = 0;
  private healed = false;
  readonly stats: DriverSimStats = {
    ...zeroStats(),
    failpointCrashes: 0,
    syncCrashes: 0,
    fsyncErrors: 0,
    restarts: 0,
    snapshotsInstalled: 0,
  };

  constructor(options: DriverSimOptions) {
    this.o = options;
    this.rng = new SeededRng(options.seed);
    this.trace = new Trace(options);
    this.oracle = new ApplyOracle((why) => this.fail(why));
    const ids: NodeId[] = [];
    for (let i = 1; i <= options.voters; i++) ids.push(BigInt(i));
    this.nextId = BigInt(options.voters + 1);
    this.latestConf = { index: 0, cs: { voters: ids, learners: [] } };
    for (const id of ids) this.members.set(id, new SimMember(id, true, options.seed * 31 + Number(id)));
  }

  /** The command that replays this run. */
  get repro(): string {
    return `npm run build && node dist/test/sim/sweep.js --driver --seeds 1 --start ${this.o.seed} --verbose`;
  }

  private log(s: string): void {
    this.trace.add(`[t${this.tickNo} r${this.round}] ${s}`);
  }

  private fail(why: string): never {
    const f = new DriverSimFailure(
      this.trace.report(`driver sim seed ${this.o.seed}: ${why}`, this.repro, this.o),
    );
    this.violation ??= f;
    throw f;
  }

  /** Runs `fn` as a callback from inside a driver: a violation is kept for the main loop. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof DriverSimFailure)) this.violation ??= this.failureOf(e);
    }
  }

  private failureOf(e: unknown): DriverSimFailure {
    try {
      this.fail(`exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    } catch (f) {
      return f as DriverSimFailure;
    }
  }

  private throwIfViolated(): void {
    if (this.violation) throw this.violation;
  }

  // ---------------------------------------------------------------------------------------------
  // Members: start, crash, stop

  private async start(n: SimMember): Promise<void> {
    const gen = ++n.gen;
    const current = () => n.gen === gen;
    n.opening = true;
    n.fs.faults.syncDelay = async () => {
      await new Promise<void>((r) => setImmediate(r));
      if (!current() || this.healed) return;
      if (this.rng.next() < this.o.syncCrashRate) {
        this.stats.syncCrashes++;
        this.crash(n, 'inside a WAL fdatasync');
      }
    };
    n.fs.faults.failFsync = () =>
      current() && !this.healed && this.rng.next() < this.o.fsyncErrorRate ? 'EIO' : undefined;
    n.confState = this.initialConf(n);
    try {
      const driver = await RaftDriver.open({
        dataDir: `/${n.label}`,
        walFs: incarnationFs(n.fs, current),
        walSegmentBytes: this.o.walSegmentBytes,
        memberId: n.id,
        clusterId: 0x5151n,
        initialVoters: n.founding ? Array.from({ length: this.o.voters }, (_, i) => BigInt(i + 1)) : [],
        join: !n.founding,
        heartbeatMs: HEARTBEAT_MS,
        electionTicks: this.o.electionTicks,
        snapshotCount: this.o.snapshotCount,
        snapshotCatchUpEntries: this.o.catchUpEntries,
        maxSnapshots: 2,
        maxWals: 2,
        readTimeoutMs: 50 * HEARTBEAT_MS,
        storeAppliedIndex: n.store.applied,
        logger: silentLogger,
        clock: this.clock,
        rng: new SeededRng(this.o.seed * 7919 + Number(n.id) * 31 + n.restarts),
        onCommitted: (e) =>
          this.guard(() => current() && this.applyEntry(n, e.index, `${e.term}|n:${dec.decode(e.data)}`)),
        onAppliedIndex: (index, term) =>
          this.guard(() => current() && this.applyEntry(n, index, `${term}|empty`)),
        onConfChange: (cc, index, term) =>
          this.guard(() => current() && this.applyConfChange(n, cc, index, term)),
        installSnapshot: async (snap) => {
          if (current()) this.installSnapshot(n, snap);
        },
        prepareSnapshot: async (index) => {
          if (!current()) return;
          if (n.store.applied < index)
            this.guard(() => this.fail(`${n.label} snapshot at ${index} beyond its store`));
          n.storeHistory = [n.store];
        },
        send: (msgs) => {
          if (current()) for (const m of msgs) this.send(n, m);
        },
        onLeaderChange: (leader, term) => this.guard(() => current() && this.onLeaderChange(n, leader, term)),
        onFatal: (err) => this.guard(() => current() && this.onFatal(n, err)),
        failpoint: (name) => {
          if (!current() || this.healed || !this.o.failpoints.includes(name)) return;
          const rate = RARE_POINTS.has(name)
            ? Math.min(0.3, this.o.failpointRate * 20)
            : this.o.failpointRate;
          if (this.rng.next() >= rate) return;
          this.stats.failpointCrashes++;
          this.crashesAt.set(name, (this.crashesAt.get(name) ?? 0) + 1);
          this.crash(n, `at ${name}`);
          throw new SimCrash(name);
        },
      });
      if (!current()) {
        void driver.stop().catch(() => {});
        return;
      }
      n.driver = driver;
      this.log(`${n.label} started (store @${n.store.applied}, log ..${driver.status().lastIndex})`);
    } catch (e) {
      // A crash (or a failed fsync) while opening is one more crash; anything else is a bug: a
      // crash must never leave a data dir that cannot be opened.
      if (current() && injectedEio(e)) {
        this.stats.fsyncErrors++;
        this.crash(n, 'after an fsync error while opening');
      } else if (current()) this.guard(() => this.fail(`${n.label} cannot restart: ${String(e)}`));
    } finally {
      if (current()) n.opening = false;
    }
  }

  private initialConf(n: SimMember): ConfState {
    return n.founding && n.store.applied === 0
      ? { voters: Array.from({ length: this.o.voters }, (_, i) => BigInt(i + 1)), learners: [] }
      : n.confState;
  }

  /**
   * A power cut: the process and its volatile state are gone, the disk keeps what a power cut keeps
   * (SimFs), and the store keeps a prefix of what it applied since its last sync.
   */
  private crash(n: SimMember, where: string): void {
    this.log(`crash ${n.label} ${where}`);
    this.stats.crashes++;
    n.gen++;
    n.opening = false;
    n.fs.crash();
    const keep = this.rng.int(n.storeHistory.length);
    n.store = n.storeHistory[keep]!;
    n.storeHistory = [n.store];
    n.incomingDb = undefined;
    const d = n.driver;
    n.driver = null;
    void d?.stop().catch(() => {});
  }

  /** Stops a member that is outside the membership (restarted should a late conf change add it). */
  private retire(n: SimMember): void {
    this.log(`shut down non-member ${n.label}`);
    n.gen++;
    n.retired = true;
    const d = n.driver;
    n.driver = null;
    void d?.stop().catch(() => {});
  }

  private onFatal(n: SimMember, err: unknown): void {
    if (injectedEio(err)) {
      // The WAL refused an fdatasync: the member stops, as it must, and is restarted later.
      this.stats.fsyncErrors++;
      this.crash(n, 'after an fsync error');
      return;
    }
    this.fail(`${n.label} driver failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }

  private alive(): SimMember[] {
    return [...this.members.values()].filter((n) => n.driver !== null);
  }

  private leaders(): SimMember[] {
    return this.alive().filter((n) => n.driver!.isLeader);
  }

  // ---------------------------------------------------------------------------------------------
  // The member's side of the driver seam

  private applyEntry(n: SimMember, index: number, key: string): void {
    if (index <= n.store.applied) {
      // Replay after a restart (or entries a copied store already holds): Member skips them by
      // its consistent index, so they had better be the entries the store holds.
      this.oracle.checkReplayed(n.label, index, key);
      return;
    }
    const name = key.includes('|n:') ? key.slice(key.indexOf('|n:') + 3) : undefined;
    n.store = this.oracle.apply(n.label, n.store, index, key, name);
    n.storeHistory.push(n.store);
    this.stats.applied = Math.max(this.stats.applied, index);
  }

  private applyConfChange(n: SimMember, cc: ConfChange, index: number, term: number): void {
    this.applyEntry(n, index, `${term}|cc:${ConfChangeType[cc.type]}:${cc.nodeId}`);
    const cs = n.driver?.configuration;
    if (!cs) return;
    n.confState = cs;
    if (index > this.latestConf.index) {
      this.latestConf = { index, cs };
      this.stats.confChangesApplied++;
      this.log(`conf change @${index} ${ConfChangeType[cc.type]} ${cc.nodeId} -> ${fmtConf(cs)}`);
    }
  }

  private installSnapshot(n: SimMember, snap: Snapshot): void {
    const db = n.incomingDb;
    if (!db) throw new Error(`no database received for the snapshot at index ${snap.metadata.index}`);
    n.incomingDb = undefined;
    this.guard(() => {
      if (db.applied < snap.metadata.index) {
        this.fail(`${n.label} got a database at ${db.applied} for a snapshot at ${snap.metadata.index}`);
      }
      this.oracle.check(n.label, db, 'snapshot install');
    });
    this.log(`${n.label} installs snapshot @${snap.metadata.index} (store @${db.applied})`);
    this.stats.snapshotsInstalled++;
    n.store = db;
    n.storeHistory = [db];
    n.confState = snap.metadata.confState;
  }

  private onLeaderChange(n: SimMember, leader: NodeId, term: number): void {
    this.stats.maxTerm = Math.max(this.stats.maxTerm, term);
    if (leader !== n.id) return;
    this.oracle.onLeader(n.id, term);
    this.stats.leadersElected++;
    this.log(`${n.label} leader of term ${term}`);
    // Leader completeness: every entry applied anywhere is in the new leader's log (or its snapshot).
    const d = n.driver;
    if (!d) return;
    for (let i = this.oracle.lastApplied; i >= 1; i--) {
      const t = d.termAt(i);
      if (t === undefined) {
        if (i > d.status().lastIndex)
          this.fail(`leader completeness: leader ${n.label} (term ${term}) lacks ${i}`);
        break; // compacted: covered by the snapshot
      }
      const want = this.oracle.appliedAt[i]!;
      if (`${t}` !== want.slice(0, want.indexOf('|'))) {
        this.fail(
          `leader completeness: leader ${n.label} (term ${term}) has term ${t} at ${i}, applied ${want}`,
        );
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Network

  private send(from: SimMember, m: Message): void {
    this.stats.messages++;
    if (!this.healed && this.rng.next() < this.o.dropRate) {
      this.onDropped(m);
      return;
    }
    const copies = !this.healed && this.rng.next() < this.o.dupRate ? 2 : 1;
    let db: SmState | undefined;
    if (m.type === MessageType.Snap) {
      db = from.store;
      this.stats.snapshotsSent++;
      this.log(
        `${from.label} sends snapshot @${m.snapshot?.metadata.index} (store @${db.applied}) to m${m.to}`,
      );
    }
    for (let i = 0; i < copies; i++) {
      const delay = 1 + this.rng.int(this.o.maxDelayRounds);
      this.net.push({ ...inFlight(m, this.round + delay), db });
    }
  }

  private onDropped(m: { type: MessageType; from: NodeId; to: NodeId }): void {
    const d = this.members.get(m.from)?.driver;
    if (!d) return;
    if (m.type === MessageType.Snap) d.reportSnapshot(m.to, false);
    else if (m.type === MessageType.App && this.rng.next() < 0.3) d.reportUnreachable(m.to);
  }

  private cut(a: NodeId, b: NodeId): boolean {
    return (this.group.get(a) ?? 0) !== (this.group.get(b) ?? 0);
  }

  private deliverDue(): void {
    const due = this.net.filter((f) => f.at <= this.round);
    if (due.length === 0) return;
    this.net = this.net.filter((f) => f.at > this.round);
    for (const f of due) {
      const to = this.members.get(f.to);
      if (!to?.driver || this.cut(f.from, f.to)) {
        this.onDropped(f);
        continue;
      }
      if (f.type === MessageType.Snap) {
        to.incomingDb = f.db;
        this.members.get(f.from)?.driver?.reportSnapshot(f.to, true);
      }
      to.driver.step(decodeMessage(f.bytes));
    }
  }

  /** Lets every driver finish what it has to do now (Readies, fsyncs, restarts). */
  private async drain(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      await new Promise<void>((r) => setImmediate(r));
      let busy = false;
      for (const n of this.members.values()) if (n.opening || (n.driver && !n.driver.idle)) busy = true;
      if (!busy) return;
    }
    this.fail('drivers still busy after 10000 event-loop turns');
  }

  // ---------------------------------------------------------------------------------------------
  // Client and operator actions

  propose(): void {
    const alive = this.alive();
    if (alive.length === 0) return;
    const n = pick(this.rng, alive);
    const name = `p${++this.proposalSeq}`;
    this.stats.proposals++;
    try {
      n.driver!.propose(enc.encode(name));
    } catch {
      // "no leader", "request timed out", "stopped": the client retries after healing.
      this.stats.proposalsDropped++;
    }
  }

  read(): void {
    const alive = this.alive();
    if (alive.length === 0) return;
    const n = pick(this.rng, alive);
    const key = `r${++this.readSeq}`;
    const min = this.maxCommitNow();
    this.stats.reads++;
    const gen = n.gen;
    let answer: Promise<number>;
    try {
      answer = n.driver!.readIndex();
    } catch {
      return;
    }
    answer.then(
      (index) =>
        this.guard(() => {
          if (n.gen !== gen) return;
          this.stats.readsAnswered++;
          if (index < min)
            this.fail(`stale read ${key} at ${n.label}: read index ${index} < committed ${min}`);
        }),
      () => {}, // timed out, leader changed, stopped: the client retries
    );
  }

  private maxCommitNow(): number {
    let c = 0;
    for (const n of this.alive()) c = Math.max(c, n.driver!.committedIndex);
    return c;
  }

  confChange(): void {
    const leaders = this.leaders();
    if (leaders.length === 0) return;
    const l = pick(this.rng, leaders);
    const cs = l.driver!.configuration;
    const roll = this.rng.next();
    let cc: ConfChange | null = null;
    const ctx = new Uint8Array(0);
    if (roll < 0.3 && this.members.size < 8) {
      const id = this.nextId++;
      const n = new SimMember(id, false, this.o.seed * 31 + Number(id));
      this.members.set(id, n);
      void this.start(n);
      const type = this.rng.next() < 0.5 ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
      cc = { type, nodeId: id, context: ctx };
    } else if (roll < 0.55 && cs.learners.length > 0) {
      cc = {
        type: ConfChangeType.AddNode,
        nodeId: pick(this.rng, cs.learners),
        context: ctx,
      };
    } else if (roll < 0.85 && cs.voters.length > 2) {
      const id = pick(this.rng, cs.voters);
      if (id === l.id) return; // etcd's operator moves leadership first; covered by transfers
      cc = { type: ConfChangeType.RemoveNode, nodeId: id, context: ctx };
    } else if (cs.learners.length > 0) {
      cc = {
        type: ConfChangeType.RemoveNode,
        nodeId: pick(this.rng, cs.learners),
        context: ctx,
      };
    }
    if (!cc) return;
    this.log(`propose conf change ${ConfChangeType[cc.type]} ${cc.nodeId} at leader ${l.label}`);
    try {
      l.driver!.proposeConfChange(cc);
    } catch {
      // dropped: nothing to retry, the next roll proposes another
    }
  }

  transfer(): void {
    const l = this.leaders()[0];
    if (!l) return;
    const voters = l.driver!.configuration.voters.filter((v) => v !== l.id);
    if (voters.length === 0) return;
    const to = pick(this.rng, voters);
    this.log(`transfer leadership ${l.label} -> m${to}`);
    this.stats.transfers++;
    try {
      l.driver!.transferLeadership(to);
    } catch {
      // stopped meanwhile
    }
  }

  leaderFault(): void {
    const leaders = this.leaders();
    if (leaders.length === 0) return;
    const l = pick(this.rng, leaders);
    if (this.rng.next() < 0.5) this.crash(l, '(leader fault)');
    else {
      this.group = new Map([[l.id, 1]]);
      this.log(`isolate leader ${l.label}`);
    }
  }

  partitioned(): boolean {
    return this.group.size > 0;
  }

  healPartition(): void {
    this.group = new Map();
    this.log('partition healed');
  }

  partition(): void {
    this.group = drawPartition(this.rng, [...this.members.keys()]);
    this.log(`partition ${[...this.group].map(([id, g]) => `m${id}:${g}`).join(' ')}`);
  }

  private restart(n: SimMember): void {
    n.restarts++;
    this.stats.restarts++;
    n.retired = false;
    this.log(`restart ${n.label}`);
    void this.start(n);
  }

  // ---------------------------------------------------------------------------------------------
  // Main loop

  private async runTick(): Promise<void> {
    this.tickNo++;
    this.stats.ticks++;
    const o = this.o;
    if (!this.healed) {
      for (const n of this.members.values()) {
        if (n.retired || n.opening) continue;
        if (n.driver && this.rng.next() < o.crashRate) this.crash(n, '(random)');
        else if (!n.driver && this.rng.next() < o.restartRate) this.restart(n);
      }
      drawChaos(this.rng, o, this);
    }
    for (let r = 0; r < o.roundsPerTick; r++) {
      this.round++;
      this.clock.advance(HEARTBEAT_MS / o.roundsPerTick);
      this.deliverDue();
      await this.drain();
      this.throwIfViolated();
    }
  }

  private isMember(n: SimMember): boolean {
    const cs = this.latestConf.cs;
    return cs.voters.includes(n.id) || cs.learners.includes(n.id);
  }

  /** Whether some member that has not applied `n`'s removal yet still counts its vote. */
  private stillCounted(n: SimMember): boolean {
    for (const m of this.members.values()) {
      if (m !== n && !m.retired && this.isMember(m) && m.confState.voters.includes(n.id)) return true;
    }
    return false;
  }

  /** Members outside the latest membership stop once nobody counts them and they do not lead. */
  private shutDownNonMembers(): void {
    for (const n of this.members.values()) {
      if (n.retired || this.isMember(n) || this.stillCounted(n)) continue;
      if (n.driver?.isLeader || !n.driver) continue;
      this.retire(n);
    }
  }

  /** Runs the seed: chaos, then heal and check liveness. Rejects with DriverSimFailure. */
  async run(): Promise<DriverSimStats> {
    try {
      for (const n of this.members.values()) void this.start(n);
      await this.drain();
      this.throwIfViolated();
      for (let t = 0; t < this.o.chaosTicks; t++) await this.runTick();
      await this.heal();
      return this.stats;
    } catch (e) {
      if (e instanceof DriverSimFailure) throw this.violation ?? e;
      throw this.violation ?? this.failureOf(e);
    } finally {
      this.healed = true;
      for (const n of this.members.values()) {
        n.gen++;
        void n.driver?.stop().catch(() => {});
        n.driver = null;
      }
    }
  }

  private async heal(): Promise<void> {
    this.healed = true;
    this.group = new Map();
    this.log('heal: network repaired, members restarted');
    const marker = `live${this.o.seed}`;
    const pending = [marker];
    for (let i = 1; i <= this.proposalSeq; i++)
      if (!this.oracle.appliedData.has(`p${i}`)) pending.push(`p${i}`);
    const lastTry = new Map<string, string>();
    const start = this.tickNo;
    const bound = this.livenessBound(pending.length);
    while (this.tickNo - start < bound) {
      this.restartMembers();
      await this.runTick();
      this.shutDownNonMembers();
      const members = this.alive().filter((n) => this.isMember(n));
      const leader = members
        .filter((n) => n.driver!.isLeader)
        .sort((a, b) => b.driver!.term - a.driver!.term)[0];
      if (!leader) continue;
      // The client retries a write only under a new leader or term (no retry storm).
      const epoch = `${leader.id}/${leader.driver!.term}`;
      for (const name of pending) {
        if (this.oracle.appliedData.has(name) || lastTry.get(name) === epoch) continue;
        try {
          leader.driver!.propose(enc.encode(name));
          lastTry.set(name, epoch);
        } catch {
          break;
        }
      }
      if (!pending.every((d) => this.oracle.appliedData.has(d))) continue;
      const last = Math.max(...pending.map((d) => this.oracle.appliedData.get(d)!));
      if (
        this.alive()
          .filter((n) => this.isMember(n))
          .every((n) => n.store.applied >= last)
      ) {
        this.stats.ticksToLiveness = this.tickNo - start;
        await this.checkConverged();
        return;
      }
    }
    const summary = [...this.members.values()]
      .map((n) => {
        const d = n.driver;
        if (!d) return `${n.label}:${n.retired ? 'retired' : 'down'}/a${n.store.applied}`;
        const s = d.status();
        return `${n.label}:${s.softState.role}/t${s.hardState.term}/c${s.hardState.commit}/a${n.store.applied}/l${s.lastIndex}`;
      })
      .join(' ');
    const missing = pending.filter((d) => !this.oracle.appliedData.has(d)).length;
    this.fail(`liveness: ${missing} writes not applied within ${bound} ticks after healing: ${summary}`);
  }

  /** After healing: every member (or member still counted by another) that is down is restarted. */
  private restartMembers(): void {
    for (const n of this.members.values()) {
      if (!n.driver && !n.opening && (this.isMember(n) || this.stillCounted(n))) this.restart(n);
    }
  }

  private livenessBound(extra: number): number {
    return this.o.livenessTicks + Math.ceil(extra / 4);
  }

  private async checkConverged(): Promise<void> {
    const bound = this.livenessBound(0);
    let members: SimMember[] = [];
    for (let i = 0; i < bound; i++) {
      this.restartMembers();
      await this.runTick();
      this.shutDownNonMembers();
      members = this.alive().filter((n) => this.isMember(n));
      const target = Math.max(...members.map((n) => n.store.applied));
      if (members.every((n) => n.store.applied === target && n.driver!.committedIndex === target)) {
        for (const n of members) this.oracle.check(n.label, n.store, 'final');
        return;
      }
    }
    this.fail(
      `members did not converge within ${bound} ticks: ${members.map((n) => `${n.label}:a${n.store.applied}`).join(' ')}`,
    );
  }
}

/** Whether `err` (or an error in its `cause` chain) is the simulated EIO of a failed fdatasync. */
function injectedEio(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === 'EIO' || /\bEIO: simulated\b/.test(e.message)) return true;
  }
  return false;
}

/** Runs one seed with its derived options (plus overrides). */
export function runDriverSeed(
  seed: number,
  overrides: Partial<DriverSimOptions> = {},
): Promise<DriverSimStats> {
  return new DriverSim(driverOptionsForSeed(seed, overrides)).run();
}
