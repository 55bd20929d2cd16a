/**
 * What both simulators share: the fault knobs a seed draws, the order a tick draws its chaos in,
 * the message on the simulated wire, the event trace a failure report prints, and the partition
 * and membership formatting helpers.
 */
import type { Rng } from '../../src/pkg/rng.js';
import {
  type ConfState,
  encodeMessage,
  type Message,
  type MessageType,
  type NodeId,
} from '../../src/raft/index.js';

/** The chaos knobs common to both simulators, all derived from the seed unless overridden. */
export interface ChaosOptions {
  seed: number;
  /** Founding voters (1..5). */
  voters: number;
  /** Ticks of chaos before healing. */
  chaosTicks: number;
  /** Ticks allowed after healing for liveness to be reached (plus time for the backlog). */
  livenessTicks: number;
  /** Message delivery rounds per tick (network speed relative to the tick). */
  roundsPerTick: number;
  dropRate: number;
  dupRate: number;
  /** Max delay of a message, in rounds. */
  maxDelayRounds: number;
  /** Per-tick probabilities. */
  proposeRate: number;
  readRate: number;
  crashRate: number;
  restartRate: number;
  partitionRate: number;
  healRate: number;
  confChangeRate: number;
  transferRate: number;
  /** Per-tick probability of crashing or isolating the current leader (provokes Figure 8). */
  leaderFaultRate: number;
  /** Keep the last N events for the failure report. */
  traceSize: number;
  /** Print every event as it happens. */
  verbose: boolean;
}

/** What a run observed, common to both simulators; summed across seeds by the sweeps and tests. */
export interface ChaosStats {
  ticks: number;
  leadersElected: number;
  maxTerm: number;
  proposals: number;
  proposalsDropped: number;
  applied: number;
  reads: number;
  readsAnswered: number;
  crashes: number;
  snapshotsSent: number;
  confChangesApplied: number;
  transfers: number;
  messages: number;
  ticksToLiveness: number;
}

/** All-zero ChaosStats. */
export function zeroStats(): ChaosStats {
  return {
    ticks: 0,
    leadersElected: 0,
    maxTerm: 0,
    proposals: 0,
    proposalsDropped: 0,
    applied: 0,
    reads: 0,
    readsAnswered: 0,
    crashes: 0,
    snapshotsSent: 0,
    confChangesApplied: 0,
    transfers: 0,
    messages: 0,
    ticksToLiveness: 0,
  };
}

/** The last events of a run, for the failure report. */
export class Trace {
  private readonly lines: string[] = [];

  constructor(private readonly o: Pick<ChaosOptions, 'traceSize' | 'verbose'>) {}

  add(line: string): void {
    if (this.o.verbose) console.log(line);
    this.lines.push(line);
    if (this.lines.length > this.o.traceSize) this.lines.shift();
  }

  /** The failure report: what broke, the repro command, the options and the last events. */
  report(what: string, repro: string, options: unknown): string {
    return `${what}\nrepro: ${repro}\noptions: ${JSON.stringify(options)}\nlast events:\n  ${this.lines.join('\n  ')}`;
  }
}

/** A uniformly chosen element of a non-empty array (one `rng.int` draw). */
export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

/** A random partition of `ids`: one member alone, or every member in one of two groups. */
export function drawPartition(rng: Rng, ids: NodeId[]): Map<NodeId, number> {
  const group = new Map<NodeId, number>();
  if (rng.next() < 0.5) group.set(pick(rng, ids), 1);
  else for (const id of ids) group.set(id, rng.int(2));
  return group;
}

/** "voters(1,2) learners(3)", ids sorted. */
export function fmtConf(cs: ConfState): string {
  const s = (xs: NodeId[]) => [...xs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)).join(',');
  return `voters(${s(cs.voters)}) learners(${s(cs.learners)})`;
}

/** A message on the simulated wire, encoded per copy (so each receiver decodes its own). */
export interface InFlight {
  /** The delivery round. */
  at: number;
  bytes: Uint8Array;
  from: NodeId;
  to: NodeId;
  type: MessageType;
}

/** `m` through the wire codec, due at round `at`. */
export function inFlight(m: Message, at: number): InFlight {
  return { at, bytes: encodeMessage(m), from: m.from, to: m.to, type: m.type };
}

/** The chaos actions a simulator offers one tick (see drawChaos). */
export interface ChaosActions {
  /** Whether a partition is in place. */
  partitioned(): boolean;
  partition(): void;
  healPartition(): void;
  leaderFault(): void;
  /** Runs right after the leader-fault draw (the RawNode simulator redraws its flaky links). */
  afterLeaderFault?(): void;
  confChange(): void;
  transfer(): void;
  propose(): void;
  read(): void;
}

/**
 * One tick of chaos: partition or heal, leader fault, membership change, leadership transfer,
 * proposals (`proposeRate` may exceed 1: one draw per started unit) and a read, each drawn from
 * `rng` in this fixed order — reordering the draws changes what every pinned seed replays.
 */
export function drawChaos(rng: Rng, o: ChaosOptions, a: ChaosActions): void {
  if (!a.partitioned() && rng.next() < o.partitionRate) a.partition();
  else if (a.partitioned() && rng.next() < o.healRate) a.healPartition();
  if (rng.next() < o.leaderFaultRate) a.leaderFault();
  a.afterLeaderFault?.();
  if (rng.next() < o.confChangeRate) a.confChange();
  if (rng.next() < o.transferRate) a.transfer();
  for (let p = o.proposeRate; p > 0; p--) if (rng.next() < p) a.propose();
  if (rng.next() < o.readRate) a.read();
}
