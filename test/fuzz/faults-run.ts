/**
 * Fuzzing under faults (issue 16): the fuzzer's traffic (runner.ts) against a 3-member cluster while
 * the Jepsen nemesis (test/jepsen/nemesis.ts) kills, pauses and partitions members. Judged:
 * - no crash: no member process exits by itself (the nemesis only SIGKILLs; a self-exit is a crash),
 *   polled throughout the run;
 * - no hang: every call's oracle holds, except calls to a member while a fault (or the
 *   EXCUSE_AFTER_FAULT_MS after it) overlapped the call — those are counted as excused;
 * - no leak: for each member process that lived through the whole run (same pid), open fds and
 *   anonymous RSS after the run (healed, every call closed) against before it, within bounds;
 * - members agree: every call the members started has ended, and HashKV at one revision is equal on
 *   every member (cluster.ts checkClusterAfter).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from '../helpers/index.js';
import { Cluster } from '../jepsen/cluster.js';
import { Nemesis } from '../jepsen/nemesis.js';
import { seededRng } from '../jepsen/rng.js';
import { type AfterCheck, checkClusterAfter, checkNoCallsLeft } from './cluster.js';
import { type RunReport, runFuzz } from './runner.js';

/** After a fault heals, calls may still fail while a leader is elected and links come back. */
const EXCUSE_AFTER_FAULT_MS = 5_000;
/** Bounds of the leak check over one run (a member's fds and anonymous RSS, after minus before). */
export const FDS_GROWTH_MAX = 25;
export const RSS_ANON_GROWTH_MAX_BYTES = 150 * 1024 * 1024;
const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

export interface ResourceSample {
  member: string;
  pid: number;
  fds: number;
  rssAnonBytes: number;
}

export interface FaultsFuzzOptions {
  seed: number;
  durationMs: number;
  /** Nemesis fault kinds (nemesis.ts); default: kill, pause and every network kind. */
  faults?: string[];
  concurrency?: number;
  gapMs?: [number, number];
  holdMs?: [number, number];
  log?: (line: string) => void;
}

export interface FaultsFuzzReport {
  fuzz: RunReport;
  faults: { kind: string; detail: string }[];
  /** Members that exited by themselves (crashes), with their log tails. */
  crashes: string[];
  before: ResourceSample[];
  after: ResourceSample[];
  /** Leak findings (empty = none): members whose fds or RSS grew past the bounds. */
  leaks: string[];
  /** HashKV agreement after healing (absent when a member crashed: nothing more is checked). */
  agreement?: AfterCheck;
}

export const DEFAULT_FUZZ_FAULTS = [
  'kill',
  'pause',
  'partition-minority',
  'partition-leader',
  'bridge',
  'one-way-leader',
  'flaky-links',
];

function resources(name: string, pid: number | undefined): ResourceSample | undefined {
  if (!pid) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const anon = Number(/^RssAnon:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    return { member: name, pid, fds: readdirSync(`/proc/${pid}/fd`).length, rssAnonBytes: anon };
  } catch {
    return undefined;
  }
}

export async function fuzzUnderFaults(o: FaultsFuzzOptions): Promise<FaultsFuzzReport> {
  const log = o.log ?? (() => {});
  const cluster = await Cluster.start(3, ['--max-request-bytes', String(MAX_REQUEST_BYTES)]);
  const crashes: string[] = [];
  const seen = new Set<string>();
  const monitor = setInterval(() => {
    for (const m of cluster.members) {
      const c = m.child;
      if (!c || c.exitCode === null) continue;
      const key = `${m.name}#${m.incarnation}`;
      if (seen.has(key)) continue;
      seen.add(key);
      crashes.push(`${m.name} exited by itself with code ${c.exitCode}:\n${m.log.slice(-3000)}`);
    }
  }, 200);
  try {
    const c0 = connect(cluster.members[0]!.client);
    const ml = await c0.cluster.memberList({});
    c0.close();
    for (const m of cluster.members) m.id = ml.members.find((x) => x.name === m.name)!.ID.toString();
    const endpoints = cluster.members.map((m) => m.client);
    const before = cluster.members.flatMap((m) => resources(m.name, m.child?.pid) ?? []);
    const nemesis = new Nemesis(cluster, {
      faults: o.faults ?? DEFAULT_FUZZ_FAULTS,
      rng: seededRng(o.seed ^ 0xf022),
      gapMs: o.gapMs ?? [2000, 4000],
      holdMs: o.holdMs ?? [1000, 3000],
    });
    let stop = false;
    const faulted = (_member: number, startedAt: number): boolean => {
      if (crashes.length > 0) return false; // a crash is never a fault's doing
      const end = performance.now();
      return nemesis.faults.some(
        (f) => f.start <= end && (f.end === undefined || f.end + EXCUSE_AFTER_FAULT_MS >= startedAt),
      );
    };
    const faults = nemesis.run(() => stop);
    let fuzz: RunReport;
    try {
      fuzz = await runFuzz({
        seed: o.seed,
        endpoints,
        durationMs: o.durationMs,
        concurrency: o.concurrency ?? 4,
        maxRequestBytes: MAX_REQUEST_BYTES,
        stopOnFailure: false,
        excuse: faulted,
        alive: () => (crashes.length > 0 ? crashes.join('\n') : undefined),
        log: (l) => {
          if (l.startsWith('FAILURE')) log(l);
        },
      });
    } finally {
      stop = true;
      await faults;
    }
    log(`fuzz done: ${fuzz.cases} cases, ${fuzz.failures.length} failures, ${fuzz.excused} excused; healing`);
    const faultList = nemesis.faults.map((f) => ({ kind: f.kind, detail: f.detail }));
    // A crashed member would be restarted by the healing: report the crash as it is instead.
    if (crashes.length > 0) return { fuzz, faults: faultList, crashes, before, after: [], leaks: [] };
    let agreement: AfterCheck;
    try {
      await nemesis.healAll();
      await checkNoCallsLeft(endpoints);
      agreement = await checkClusterAfter(endpoints);
    } catch (e) {
      // a member that crashed while being checked: that is the finding, not the check's error
      if (crashes.length > 0) return { fuzz, faults: faultList, crashes, before, after: [], leaks: [] };
      throw e;
    }
    const after = cluster.members.flatMap((m) => resources(m.name, m.child?.pid) ?? []);
    const leaks: string[] = [];
    for (const a of after) {
      const b = before.find((x) => x.pid === a.pid);
      if (!b) continue; // restarted during the run: nothing to compare
      if (a.fds - b.fds > FDS_GROWTH_MAX) leaks.push(`${a.member}: fds ${b.fds} -> ${a.fds}`);
      if (a.rssAnonBytes - b.rssAnonBytes > RSS_ANON_GROWTH_MAX_BYTES)
        leaks.push(`${a.member}: anonymous RSS ${b.rssAnonBytes} -> ${a.rssAnonBytes} bytes`);
    }
    return {
      fuzz,
      faults: faultList,
      crashes,
      before,
      after,
      leaks,
      agreement,
    };
  } finally {
    clearInterval(monitor);
    await cluster.destroy();
  }
}
