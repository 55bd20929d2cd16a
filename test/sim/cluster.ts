/**
 * The deterministic cluster simulator: N Raft members in one process over a simulated network that
 * drops, delays, duplicates and reorders messages and partitions members; crashes that lose all
 * unpersisted state and restart from the member's MemoryStorage (the simulated disk); membership
 * changes, leadership transfers, snapshots and compaction mid-run. One seed drives every choice, so
 * a failure replays exactly from its seed.
 *
 * Safety invariants are checked as the run goes (after every Ready a member handles):
 * - election safety: at most one leader per term;
 * - log matching: two logs holding an entry with the same index and term hold the same entry and
 *   agree on the term of the entry before it (so, by induction, on the whole prefix);
 * - leader completeness: a new leader holds every entry known to be committed;
 * - state machine safety: no two members apply different entries at one index (checked on a hash
 *   chain of the applied sequence, which also covers snapshots);
 * - committed entries survive crashes (a restarted member's durable commit is within its log, and
 *   completeness above);
 * - ReadIndex: a read point is never older than the highest commit any member knew when the read
 *   was issued (the linearizability oracle).
 * Liveness: after the chaos phase the network heals, crashed members restart, and within a bounded
 * number of ticks a leader must exist and a fresh proposal must be applied by every member.
 */
import { SeededRng } from '../../src/pkg/rng.js';
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  decodeMessage,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  MessageType,
  type NodeId,
  RaftError,
  RawNode,
  type Ready,
  StateRole,
} from '../../src/raft/index.js';
import type { ChaosActions, ChaosOptions, ChaosStats, InFlight } from './chaos.js';
import { drawChaos, drawPartition, fmtConf, inFlight, pick, Trace, zeroStats } from './chaos.js';
import { fnv, type SmState } from './oracle.js';

/** The knobs of one run, all derived from the seed unless overridden. */
export interface SimOptions extends ChaosOptions {
  preVote: boolean;
  checkQuorum: boolean;
  /**
   * Per-tick probability of redrawing the loss rate of every directed link (0, 0.5 or 1): flaky,
   * asymmetric links give the partial replication patterns of the paper's Figure 8.
   */
  flakyLinkRate: number;
  /** Honour `Ready.sendBeforePersist` (a leader sends while its own write is in flight). */
  earlySend: boolean;
  /** Compact when a member applied this many entries past its snapshot (0 = never). */
  snapshotEvery: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  /** 0 = unbounded. */
  maxInflightBytes: number;
  /** 0 = unbounded. */
  maxUncommittedEntriesSize: number;
  maxCommittedSizePerReady: number;
  electionTick: number;
}

/** Chooses the options of a seed (the "workload generator"). */
export function optionsForSeed(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  const r = new SeededRng(seed ^ 0x5eed);
  const chaos = r.next() < 0.8;
  const roundsPerTick = pick(r, [4, 8, 8, 16]);
  const electionTick = pick(r, [5, 10]);
  // Raft's timing requirement (§5.6): a round trip well below the election timeout.
  const maxDelayRounds = Math.min(pick(r, [1, 2, 4, 8, 24]), Math.floor((roundsPerTick * electionTick) / 4));
  return {
    seed,
    voters: pick(r, [1, 2, 3, 3, 3, 4, 5, 5]),
    preVote: r.next() < 0.5,
    checkQuorum: r.next() < 0.5,
    chaosTicks: 150 + r.int(150),
    livenessTicks: 200,
    roundsPerTick,
    dropRate: chaos ? pick(r, [0, 0.02, 0.05, 0.1, 0.2]) : 0,
    flakyLinkRate: chaos ? pick(r, [0, 0, 0.05, 0.2]) : 0,
    dupRate: chaos ? pick(r, [0, 0.02, 0.05]) : 0,
    maxDelayRounds,
    proposeRate: pick(r, [0.3, 0.6, 1, 2]),
    readRate: pick(r, [0, 0.1, 0.3]),
    crashRate: chaos ? pick(r, [0, 0.005, 0.02, 0.05]) : 0,
    restartRate: pick(r, [0.05, 0.2]),
    partitionRate: chaos ? pick(r, [0, 0.01, 0.03, 0.06]) : 0,
    healRate: pick(r, [0.05, 0.2]),
    confChangeRate: r.next() < 0.5 ? pick(r, [0.01, 0.03, 0.06]) : 0,
    transferRate: r.next() < 0.4 ? pick(r, [0.01, 0.03]) : 0,
    leaderFaultRate: chaos ? pick(r, [0, 0, 0.02, 0.05, 0.1]) : 0,
    snapshotEvery: pick(r, [0, 5, 20, 50]),
    maxSizePerMsg: pick(r, [1, 64, 1024 * 1024]),
    maxInflightMsgs: pick(r, [1, 2, 16, 256]),
    maxInflightBytes: pick(r, [0, 0, 16, 256]),
    maxUncommittedEntriesSize: pick(r, [0, 0, 64, 1024]),
    maxCommittedSizePerReady: pick(r, [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 1, 32]),
    electionTick,
    traceSize: 200,
    verbose: false,
    earlySend: r.next() < 0.7,
    ...overrides,
  };
}

/** What a run observed; compared across seeds by the sweep. */
export interface SimStats extends ChaosStats {
  /** Crashes of a leader after it sent a Ready's messages but before it persisted its entries. */
  crashesBeforePersist: number;
}

/** A safety or liveness violation, carrying the seed and a one-line repro. */
export class SimFailure extends Error {
  override name = 'SimFailure';
}

function dataKey(e: Entry): string {
  let s = `${e.type}:`;
  for (const b of e.data) s += String.fromCharCode(b);
  return s;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One simulated member: its durable storage survives crashes; everything else does not. */
class SimNode {
  raw: RawNode | null = null;
  /** The state machine: volatile, rebuilt from the storage snapshot on restart. */
  sm: SmState = { applied: 0, hash: 0 };
  /** Membership as of `sm.applied` (what a snapshot at that index records). */
  confState: ConfState = { voters: [], learners: [] };
  restarts = 0;
  /** Highest commit of this member already checked against the committed-terms oracle. */
  checkedCommit = 0;
  /** Read contexts issued here, with the minimum acceptable read index. */
  readonly pendingReads = new Map<string, number>();

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
  ) {}
}

/** The simulator; `run()` executes one seed and throws SimFailure on a violation. */
export class Sim implements ChaosActions {
  readonly o: SimOptions;
  private readonly rng: SeededRng;
  readonly nodes = new Map<NodeId, SimNode>();
  private net: InFlight[] = [];
  private round = 0;
  private tickNo = 0;
  private nextNodeId: bigint;
  /** Partition: group number per node; messages between different groups are lost. */
  private group = new Map<NodeId, number>();
  /** Loss rate per directed link "from>to" (flaky links). */
  private linkLoss = new Map<string, number>();
  private readonly trace: Trace;
  readonly stats: SimStats = { ...zeroStats(), crashesBeforePersist: 0 };

  // Oracles.
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** (index:term) -> [data key, term of the previous entry or -1 if unknown]. */
  private readonly entryAt = new Map<string, [string, number]>();
  /** Applied entries by index (term + data key) and the hash chain after each. */
  private readonly appliedAt: string[] = [''];
  private readonly chainAt: number[] = [0];
  /** Highest commit any member has made durable so far. */
  private maxCommit = 0;
  /** Term of each committed index, as recorded from the members' durable commits. */
  private readonly committedTerm: number[] = [0];
  /** Membership by the index of the conf change that produced it (applied anywhere). */
  private confByIndex = new Map<number, ConfState>();
  private latestConf: { index: number; cs: ConfState } = { index: 0, cs: { voters: [], learners: [] } };
  private proposalSeq = 0;
  /** Data of every Normal entry applied anywhere -> its index. */
  private readonly appliedData = new Map<string, number>();
  private readSeq = 0;
  private healed = false;

  constructor(options: SimOptions) {
    this.o = options;
    this.rng = new SeededRng(options.seed);
    this.trace = new Trace(options);
    const ids: NodeId[] = [];
    for (let i = 1; i <= options.voters; i++) ids.push(BigInt(i));
    this.nextNodeId = BigInt(options.voters + 1);
    this.latestConf = { index: 0, cs: { voters: ids, learners: [] } };
    for (const id of ids) {
      const n = new SimNode(id, new MemoryStorage());
      this.nodes.set(id, n);
      this.start(n);
      n.raw!.bootstrap(ids);
    }
  }

  private log(s: string): void {
    this.trace.add(`[t${this.tickNo} r${this.round}] ${s}`);
  }

  private fail(why: string): never {
    const o = this.o;
    const repro = `npm run build && node dist/test/sim/sweep.js --seeds 1 --start ${o.seed} --verbose`;
    throw new SimFailure(this.trace.report(`raft sim seed ${o.seed}: ${why}`, repro, o));
  }

  private start(n: SimNode): void {
    const snap = n.storage.snapshot();
    if (snap.metadata.index > 0) {
      n.sm = decodeSm(snap.data);
      this.checkSm(n, 'restart from snapshot');
    } else {
      n.sm = { applied: 0, hash: 0 };
    }
    n.confState = n.storage.initialState().confState;
    n.raw = new RawNode({
      id: n.id,
      storage: n.storage,
      rng: new SeededRng(this.o.seed * 7919 + Number(n.id) * 31 + n.restarts),
      electionTick: this.o.electionTick,
      heartbeatTick: 1,
      applied: snap.metadata.index,
      preVote: this.o.preVote,
      checkQuorum: this.o.checkQuorum,
      maxSizePerMsg: this.o.maxSizePerMsg,
      maxInflightMsgs: this.o.maxInflightMsgs,
      maxInflightBytes: this.o.maxInflightBytes,
      maxUncommittedEntriesSize: this.o.maxUncommittedEntriesSize,
      maxCommittedSizePerReady: this.o.maxCommittedSizePerReady,
    });
  }

  private crash(n: SimNode): void {
    this.log(`crash ${n.id}`);
    n.raw = null;
    n.pendingReads.clear();
    this.stats.crashes++;
  }

  private restart(n: SimNode): void {
    n.restarts++;
    this.log(`restart ${n.id} (log ${n.storage.firstIndex()}..${n.storage.lastIndex()})`);
    this.start(n);
    // A founding member that crashed before persisting its bootstrap entries bootstraps again, as
    // a server with an empty data dir and the initial cluster would.
    if (n.id <= BigInt(this.o.voters) && n.storage.lastIndex() === 0) {
      n.raw!.bootstrap(Array.from({ length: this.o.voters }, (_, i) => BigInt(i + 1)));
    }
  }

  private alive(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raw !== null);
  }

  private leaders(): SimNode[] {
    return this.alive().filter((n) => n.raw!.status().softState.role === StateRole.Leader);
  }

  // ---------------------------------------------------------------------------------------------
  // Network

  private send(m: Message): void {
    this.stats.messages++;
    const o = this.o;
    const linkLoss = this.linkLoss.get(`${m.from}>${m.to}`) ?? 0;
    if (!this.healed && (this.rng.next() < o.dropRate || (linkLoss > 0 && this.rng.next() < linkLoss))) {
      this.onDropped(m);
      return;
    }
    const copies = !this.healed && this.rng.next() < o.dupRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = 1 + this.rng.int(o.maxDelayRounds);
      if (!this.healed && this.rng.next() < 0.01) delay += this.rng.int(o.roundsPerTick * 5);
      // Every message goes through the wire codec, which also gives each receiver its own copy.
      this.net.push(inFlight(m, this.round + delay));
    }
  }

  private onDropped(m: { type: MessageType; from: NodeId; to: NodeId }): void {
    const sender = this.nodes.get(m.from);
    if (!sender?.raw) return;
    if (m.type === MessageType.Snap) sender.raw.reportSnapshot(m.to, false);
    else if (m.type === MessageType.App && this.rng.next() < 0.3) sender.raw.reportUnreachable(m.to);
  }

  private deliverDue(): void {
    const due: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const f of this.net) (f.at <= this.round ? due : rest).push(f);
    this.net = rest;
    // Reorder: deliver the due messages in a random order.
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    for (const f of due) {
      const to = this.nodes.get(f.to);
      const cut = (this.group.get(f.from) ?? 0) !== (this.group.get(f.to) ?? 0);
      if (!to?.raw || cut) {
        this.onDropped(f);
        continue;
      }
      const m = decodeMessage(f.bytes);
      if (m.type === MessageType.Snap) {
        this.stats.snapshotsSent++;
        this.nodes.get(f.from)?.raw?.reportSnapshot(f.to, true);
      }
      to.raw.step(m);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Ready handling: the driver, following the documented order

  private processReadies(): void {
    for (let pass = 0; pass < 4; pass++) {
      let any = false;
      for (const n of this.nodes.values()) {
        if (n.raw?.hasReady()) {
          any = true;
          this.handleReady(n);
        }
      }
      if (!any) return;
    }
  }

  private handleReady(n: SimNode): void {
    const raw = n.raw!;
    const rd: Ready = raw.ready();
    const st = raw.status();
    if (rd.softState?.role === StateRole.Leader) this.onLeader(n, st.hardState.term);
    this.stats.maxTerm = Math.max(this.stats.maxTerm, st.hardState.term);

    // A leader may send while its own write is in flight; a crash in that window loses the
    // entries it already sent (they were never durable here).
    if (rd.sendBeforePersist && this.o.earlySend) {
      for (const m of rd.messages) this.send(m);
      if (!this.healed && this.rng.next() < this.o.crashRate / 10) {
        this.log(`${n.id} crashes after sending, before persisting`);
        this.stats.crashesBeforePersist++;
        this.crash(n);
        return;
      }
    }
    // 1-2. Persist snapshot, entries, hard state.
    if (rd.snapshot) {
      const sm = decodeSm(rd.snapshot.data);
      this.log(`${n.id} installs snapshot @${rd.snapshot.metadata.index}`);
      n.storage.applySnapshot(rd.snapshot);
      n.sm = sm;
      n.confState = rd.snapshot.metadata.confState;
      this.checkSm(n, 'snapshot install');
    }
    if (rd.entries.length > 0) {
      n.storage.append(rd.entries);
      this.checkLogMatching(n, rd.entries);
    }
    if (rd.hardState) {
      n.storage.setHardState(rd.hardState);
      if (rd.hardState.commit > n.storage.lastIndex()) {
        this.fail(
          `${n.id} persisted commit ${rd.hardState.commit} beyond its durable log ${n.storage.lastIndex()}`,
        );
      }
      this.maxCommit = Math.max(this.maxCommit, rd.hardState.commit);
      this.recordCommitted(n, rd.hardState.commit);
    }
    // A crash right after the fsync, before anything is sent or applied.
    if (!this.healed && this.rng.next() < this.o.crashRate / 20) {
      this.crash(n);
      return;
    }
    // 3. Send.
    if (!(rd.sendBeforePersist && this.o.earlySend)) for (const m of rd.messages) this.send(m);
    // 4. Apply.
    for (const e of rd.committedEntries) this.apply(n, e);
    // 5. Reads.
    for (const rs of rd.readStates) {
      const key = dec.decode(rs.requestCtx);
      const min = n.pendingReads.get(key);
      if (min === undefined) continue; // issued before a crash of this member
      n.pendingReads.delete(key);
      this.stats.readsAnswered++;
      if (rs.index < min)
        this.fail(`stale read ${key} at ${n.id}: read index ${rs.index} < committed ${min}`);
    }
    raw.advance();
    this.maybeCompact(n);
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.sm.applied + 1) this.fail(`${n.id} applies ${e.index} after ${n.sm.applied}`);
    const key = `${e.term}|${dataKey(e)}`;
    const prev = this.appliedAt[e.index];
    if (prev === undefined) {
      if (e.index !== this.appliedAt.length) this.fail(`oracle gap at ${e.index}`);
      this.appliedAt.push(key);
      if (e.type === EntryType.Normal && e.data.byteLength > 0)
        this.appliedData.set(dec.decode(e.data), e.index);
      this.chainAt.push(fnv(n.sm.hash, key));
      this.stats.applied = e.index;
    } else if (prev !== key) {
      this.fail(`state machine safety: ${n.id} applies ${key} at ${e.index}, another member applied ${prev}`);
    }
    n.sm = { applied: e.index, hash: fnv(n.sm.hash, key) };
    this.checkSm(n, 'apply');
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      const cs = n.raw!.applyConfChange(cc);
      n.confState = cs;
      // Bootstrap entries are applied up front by the founding members but one by one by members
      // that join later and replay the log, so memberships are compared only after them.
      const seen = e.index > this.o.voters ? this.confByIndex.get(e.index) : undefined;
      if (seen && !sameConf(seen, cs)) {
        this.fail(`${n.id} reached membership ${fmtConf(cs)} at ${e.index}, another ${fmtConf(seen)}`);
      }
      if (!seen) {
        this.confByIndex.set(e.index, cs);
        this.stats.confChangesApplied++;
        this.log(`conf change @${e.index} ${ConfChangeType[cc.type]} ${cc.nodeId} -> ${fmtConf(cs)}`);
      }
      if (e.index > this.latestConf.index) this.latestConf = { index: e.index, cs };
    }
  }

  private checkSm(n: SimNode, where: string): void {
    const want = this.chainAt[n.sm.applied];
    if (want !== undefined && want !== n.sm.hash) {
      this.fail(`state machine safety (${where}): ${n.id} state at ${n.sm.applied} differs from the oracle`);
    }
  }

  private maybeCompact(n: SimNode): void {
    const every = this.o.snapshotEvery;
    if (every === 0 || !n.raw) return;
    const snapIndex = n.storage.snapshot().metadata.index;
    if (n.sm.applied - snapIndex < every) return;
    n.storage.createSnapshot(n.sm.applied, n.confState, encodeSm(n.sm));
    const keep = this.rng.int(every);
    const to = n.sm.applied - keep;
    if (to > n.storage.firstIndex() - 1) n.storage.compact(to);
    this.log(`${n.id} snapshot @${n.sm.applied}, log from ${n.storage.firstIndex()}`);
  }

  private checkLogMatching(n: SimNode, ents: Entry[]): void {
    for (const e of ents) {
      const k = `${e.index}:${e.term}`;
      const prevTerm = n.raw!.logTerm(e.index - 1) ?? -1;
      const data = dataKey(e);
      const seen = this.entryAt.get(k);
      if (!seen) {
        this.entryAt.set(k, [data, prevTerm]);
        continue;
      }
      if (seen[0] !== data) this.fail(`log matching: ${n.id} holds a different entry at ${k}`);
      if (seen[1] >= 0 && prevTerm >= 0 && seen[1] !== prevTerm) {
        this.fail(`log matching: ${n.id} has term ${prevTerm} before ${k}, another log has ${seen[1]}`);
      }
    }
  }

  /**
   * Everything up to a member's durable commit is committed: record its terms, and check that no
   * committed index ever holds two different terms (a committed entry lost or replaced).
   */
  private recordCommitted(n: SimNode, commit: number): void {
    const raw = n.raw!;
    for (let i = Math.max(n.checkedCommit + 1, raw.firstIndex()); i <= commit; i++) {
      const t = raw.logTerm(i);
      if (t === undefined) continue;
      const want = this.committedTerm[i];
      if (want === undefined) {
        if (i === this.committedTerm.length) this.committedTerm.push(t);
      } else if (want !== t) {
        this.fail(`committed entry ${i} changed: ${n.id} has term ${t} there, committed with term ${want}`);
      }
    }
    n.checkedCommit = Math.max(n.checkedCommit, commit);
  }

  private onLeader(n: SimNode, term: number): void {
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== n.id) this.fail(`two leaders in term ${term}: ${other} and ${n.id}`);
    this.leaderOfTerm.set(term, n.id);
    this.stats.leadersElected++;
    this.log(`${n.id} leader of term ${term}`);
    // Leader completeness: every entry applied anywhere (hence committed) is in the new leader's log.
    const raw = n.raw!;
    const first = raw.firstIndex();
    for (let i = Math.max(first, 1); i < this.appliedAt.length; i++) {
      const t = raw.logTerm(i);
      const want = this.appliedAt[i]!;
      if (t === undefined || `${t}` !== want.slice(0, want.indexOf('|'))) {
        this.fail(`leader completeness: leader ${n.id} (term ${term}) lacks committed entry ${i} (${want})`);
      }
    }
    for (let i = Math.max(first, this.appliedAt.length); i < this.committedTerm.length; i++) {
      if (raw.logTerm(i) !== this.committedTerm[i]) {
        this.fail(`leader completeness: leader ${n.id} (term ${term}) lacks committed entry ${i}`);
      }
    }
    if (first - 1 > this.appliedAt.length - 1 + 0 && first - 1 > this.maxCommit) {
      // Its snapshot covers entries nobody has applied yet: fine only if they were committed.
      this.fail(`leader ${n.id} snapshot beyond any commit`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Client and operator actions

  propose(): void {
    const alive = this.alive();
    if (alive.length === 0) return;
    const n = pick(this.rng, alive);
    const data = enc.encode(`p${++this.proposalSeq}`);
    this.stats.proposals++;
    try {
      if (this.rng.next() < 0.3) {
        const batch = [data];
        for (let i = this.rng.int(5); i > 0; i--) batch.push(enc.encode(`p${++this.proposalSeq}`));
        n.raw!.proposeBatch(batch);
      } else {
        n.raw!.propose(data);
      }
      if (this.o.earlySend) for (const m of n.raw!.takeForwarded()) this.send(m);
    } catch (e) {
      if (e instanceof RaftError && e.code === 'proposal-dropped') this.stats.proposalsDropped++;
      else throw e;
    }
  }

  read(): void {
    const alive = this.alive();
    if (alive.length === 0) return;
    const n = pick(this.rng, alive);
    const key = `r${++this.readSeq}`;
    this.stats.reads++;
    try {
      n.raw!.readIndex(enc.encode(key));
      // Linearizability: the read must see everything committed before it was issued.
      n.pendingReads.set(key, this.maxCommitNow());
      if (this.o.earlySend) for (const m of n.raw!.takeForwarded()) this.send(m);
    } catch (e) {
      if (!(e instanceof RaftError && e.code === 'proposal-dropped')) throw e;
    }
  }

  private maxCommitNow(): number {
    let c = this.maxCommit;
    for (const n of this.alive()) c = Math.max(c, n.raw!.status().hardState.commit);
    return c;
  }

  confChange(): void {
    const leaders = this.leaders();
    if (leaders.length === 0) return;
    const l = pick(this.rng, leaders);
    const cs = l.raw!.status().confState;
    const roll = this.rng.next();
    let cc: ConfChange | null = null;
    if (roll < 0.3 && this.nodes.size < 9) {
      const id = this.nextNodeId++;
      const n = new SimNode(id, new MemoryStorage());
      this.nodes.set(id, n);
      this.start(n);
      cc = {
        type: this.rng.next() < 0.5 ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
        nodeId: id,
        context: new Uint8Array(0),
      };
    } else if (roll < 0.55 && cs.learners.length > 0) {
      cc = {
        type: ConfChangeType.AddNode,
        nodeId: pick(this.rng, cs.learners),
        context: new Uint8Array(0),
      };
    } else if (roll < 0.85 && cs.voters.length > 1) {
      // Sometimes the leader removes itself.
      const id = this.rng.next() < 0.3 ? l.id : pick(this.rng, cs.voters);
      if (id === l.id && cs.voters.length === 2) {
        // Removing the leader of a two-voter cluster can leave the survivor waiting forever for
        // the removed member's vote (conf changes take effect when applied; see
        // src/raft/README.md). The operator's procedure: hand leadership over first.
        const other = cs.voters.find((v) => v !== l.id)!;
        this.log(`transfer leadership ${l.id} -> ${other} before removing ${l.id}`);
        l.raw!.transferLeadership(other);
        return;
      }
      cc = { type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array(0) };
    } else if (cs.learners.length > 0) {
      cc = {
        type: ConfChangeType.RemoveNode,
        nodeId: pick(this.rng, cs.learners),
        context: new Uint8Array(0),
      };
    }
    if (!cc) return;
    this.log(`propose conf change ${ConfChangeType[cc.type]} ${cc.nodeId} at leader ${l.id}`);
    try {
      l.raw!.proposeConfChange(cc);
    } catch (e) {
      if (!(e instanceof RaftError && e.code === 'proposal-dropped')) throw e;
    }
  }

  transfer(): void {
    const leaders = this.leaders();
    if (leaders.length === 0) return;
    const l = leaders[0]!;
    const voters = l.raw!.status().confState.voters.filter((v) => v !== l.id);
    if (voters.length === 0) return;
    const to = pick(this.rng, voters);
    this.log(`transfer leadership ${l.id} -> ${to}`);
    this.stats.transfers++;
    l.raw!.transferLeadership(to);
  }

  partitioned(): boolean {
    return this.group.size > 0;
  }

  // Consumes no randomness when off, so pinned scenarios from before this option replay exactly.
  afterLeaderFault(): void {
    if (this.o.flakyLinkRate > 0 && this.rng.next() < this.o.flakyLinkRate) this.redrawLinks();
  }

  healPartition(): void {
    this.group = new Map();
    this.log('partition healed');
  }

  private redrawLinks(): void {
    this.linkLoss = new Map();
    for (const a of this.nodes.keys()) {
      for (const b of this.nodes.keys()) {
        if (a !== b) this.linkLoss.set(`${a}>${b}`, [0, 0, 0, 0.5, 1][this.rng.int(5)]!);
      }
    }
    this.log('links redrawn');
  }

  leaderFault(): void {
    const leaders = this.leaders();
    if (leaders.length === 0) return;
    const l = pick(this.rng, leaders);
    if (this.rng.next() < 0.5) {
      this.crash(l);
    } else {
      this.group = new Map([[l.id, 1]]);
      this.log(`isolate leader ${l.id}`);
    }
  }

  partition(): void {
    this.group = drawPartition(this.rng, [...this.nodes.keys()]);
    this.log(`partition ${[...this.group].map(([id, g]) => `${id}:${g}`).join(' ')}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Main loop

  private runTick(): void {
    this.tickNo++;
    this.stats.ticks++;
    const o = this.o;
    for (const n of this.alive()) n.raw!.tick();
    if (!this.healed) {
      for (const n of this.nodes.values()) {
        if (n.raw && this.rng.next() < o.crashRate) this.crash(n);
        else if (!n.raw && this.isMemberOrNew(n) && this.rng.next() < o.restartRate) this.restart(n);
      }
      drawChaos(this.rng, o, this);
    }
    for (let r = 0; r < o.roundsPerTick; r++) {
      this.round++;
      this.deliverDue();
      this.processReadies();
    }
    this.checkLeaders();
  }

  /**
   * Stops members outside the latest membership, as an operator (or etcd's server) would — but
   * only once no remaining member still counts the removed member's vote (one that has not yet
   * applied the removal does: critical when shrinking from two voters to one) and the removed
   * member is no longer leading.
   */
  private shutDownNonMembers(): void {
    for (const n of this.alive()) {
      if (this.isMember(n) || n.raw!.status().softState.role === StateRole.Leader) continue;
      if (this.stillCounted(n)) continue;
      this.log(`shut down non-member ${n.id}`);
      n.raw = null;
    }
  }

  private isMember(n: SimNode): boolean {
    const cs = this.latestConf.cs;
    return cs.voters.includes(n.id) || cs.learners.includes(n.id);
  }

  private isMemberOrNew(n: SimNode): boolean {
    return this.isMember(n) || this.stillCounted(n) || n.storage.lastIndex() === 0;
  }

  /**
   * Whether a removed member's vote is still counted by some member that has not applied its
   * removal yet: such a member must not be retired (the operator restarts it after a crash), or
   * a cluster shrinking to one voter could be left waiting for it forever.
   */
  private stillCounted(n: SimNode): boolean {
    for (const m of this.nodes.values()) {
      if (m !== n && this.isMember(m) && m.confState.voters.includes(n.id)) return true;
    }
    return false;
  }

  private checkLeaders(): void {
    for (const n of this.alive()) {
      const st = n.raw!.status();
      if (st.softState.role !== StateRole.Leader) continue;
      const other = this.leaderOfTerm.get(st.hardState.term);
      if (other !== undefined && other !== n.id)
        this.fail(`two leaders in term ${st.hardState.term}: ${other}, ${n.id}`);
    }
  }

  /** Runs the seed: chaos, then heal and check liveness. Throws SimFailure on any violation. */
  run(): SimStats {
    try {
      for (let t = 0; t < this.o.chaosTicks; t++) this.runTick();
      this.heal();
      return this.stats;
    } catch (e) {
      if (e instanceof SimFailure) throw e;
      this.fail(`exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private heal(): void {
    this.healed = true;
    this.group = new Map();
    this.log('heal: network repaired, members restarted');
    for (const n of this.nodes.values())
      if ((this.isMember(n) || this.stillCounted(n)) && !n.raw) this.restart(n);
    // The client retries every proposal that never got applied (it may have been lost with a
    // message or a leader): all of them, and a fresh marker, must commit within the bound.
    const marker = `live${this.o.seed}`;
    const pending: string[] = [marker];
    for (let i = 1; i <= this.proposalSeq; i++) if (!this.appliedData.has(`p${i}`)) pending.push(`p${i}`);
    const lastTry = new Map<string, string>();
    const start = this.tickNo;
    const bound = this.livenessBound(pending.length);
    while (this.tickNo - start < bound) {
      this.runTick();
      this.shutDownNonMembers();
      // Conf changes proposed before healing may still apply: only current members must progress.
      const members = this.alive().filter((n) => this.isMember(n));
      const leaders = members.filter((n) => n.raw!.status().softState.role === StateRole.Leader);
      if (leaders.length === 0) continue;
      const leader = leaders.reduce((a, b) =>
        a.raw!.status().hardState.term >= b.raw!.status().hardState.term ? a : b,
      );
      // An accepted proposal sits in the leader's log and commits unless leadership changes, so
      // the client retries only under a new leader (or term): no retry storm on a slow link.
      const epoch = `${leader.id}/${leader.raw!.status().hardState.term}`;
      const todo = pending.filter((d) => !this.appliedData.has(d) && lastTry.get(d) !== epoch);
      for (let k = 0; k < todo.length; k += 16) {
        const batch = todo.slice(k, k + 16);
        try {
          leader.raw!.proposeBatch(batch.map((d) => enc.encode(d)));
          for (const d of batch) lastTry.set(d, epoch);
        } catch (e) {
          if (!(e instanceof RaftError && e.code === 'proposal-dropped')) throw e;
          break; // e.g. the uncommitted bound: retry next tick
        }
      }
      if (!pending.every((d) => this.appliedData.has(d))) continue;
      const last = Math.max(...pending.map((d) => this.appliedData.get(d)!));
      if (members.every((n) => n.sm.applied >= last)) {
        this.stats.ticksToLiveness = this.tickNo - start;
        this.checkConverged(members);
        return;
      }
    }
    const summary = this.alive()
      .map((n) => {
        const s = n.raw!.status();
        const prs = [...s.progress].map(([id, p]) => `${id}=${p.state}/m${p.match}/n${p.next}`).join(',');
        return `${n.id}:${s.softState.role}/t${s.hardState.term}/c${s.hardState.commit}/a${n.sm.applied}/l${s.lastIndex}${prs ? `[${prs}]` : ''}`;
      })
      .join(' ');
    const missing = pending.filter((d) => !this.appliedData.has(d)).length;
    this.fail(`liveness: ${missing} proposals not applied within ${bound} ticks after healing: ${summary}`);
  }

  /**
   * Ticks allowed after healing: a fixed allowance for electing a leader plus the time to ship the
   * backlog of uncommitted entries when flow control sends one entry per round trip.
   */
  private livenessBound(extraEntries = 0): number {
    const o = this.o;
    let last = 0;
    let applied = Number.MAX_SAFE_INTEGER;
    for (const n of this.nodes.values()) {
      last = Math.max(last, n.storage.lastIndex(), n.raw?.status().lastIndex ?? 0);
      if (n.raw) applied = Math.min(applied, n.sm.applied);
    }
    const backlog = Math.max(0, last - Math.min(applied, last)) + extraEntries;
    const slow = o.maxInflightMsgs === 1 || o.maxSizePerMsg === 1;
    const perEntry = slow ? Math.ceil((2 * o.maxDelayRounds) / o.roundsPerTick) + 1 : 0.1;
    return Math.ceil(o.livenessTicks + backlog * perEntry);
  }

  private checkConverged(members: SimNode[]): void {
    // Late messages from before the heal may still commit entries: wait (bounded) until every
    // member has applied the same prefix, then check it against the oracle.
    const bound = this.livenessBound();
    for (let i = 0; i < bound; i++) {
      this.runTick();
      this.shutDownNonMembers();
      members = members.filter((n) => n.raw !== null && this.isMember(n));
      const target = Math.max(...members.map((n) => n.sm.applied));
      const commits = members.map((n) => n.raw!.status().hardState.commit);
      if (members.every((n) => n.sm.applied === target) && commits.every((c) => c === target)) {
        for (const n of members) this.checkSm(n, 'final');
        return;
      }
    }
    const got = members.map((n) => `${n.id}:a${n.sm.applied}`).join(' ');
    this.fail(`members did not converge within ${bound} ticks: ${got}`);
  }
}

function encodeSm(sm: SmState): Uint8Array {
  return enc.encode(`${sm.applied}:${sm.hash}`);
}

function decodeSm(b: Uint8Array): SmState {
  const [a, h] = dec.decode(b).split(':');
  return { applied: Number(a), hash: Number(h) };
}

function sameConf(a: ConfState, b: ConfState): boolean {
  return fmtConf(a) === fmtConf(b);
}

/** Runs one seed with its derived options (plus overrides). */
export function runSeed(seed: number, overrides: Partial<SimOptions> = {}): SimStats {
  return new Sim(optionsForSeed(seed, overrides)).run();
}
