/**
 * One Jepsen-style run: start a 3-process cluster with failpoints, drive the workload (KV clients,
 * watchers, lease clients) while the nemesis injects faults, heal, read the ground truth from every
 * member, and run every checker over the recorded history.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as rpc from '../../src/proto/etcdserverpb/rpc.js';
import { connect, type EtcdClients, waitFor } from '../helpers/index.js';
import type { ListTxn } from './checkers/elle.js';
import { checkAll } from './checkers/index.js';
import type { LeaderObservation } from './checkers/membership.js';
import { Cluster } from './cluster.js';
import type { CheckResult, GroundTruth, History, KeyState, KvOp, LeaseKey, LeaseOp } from './history.js';
import { observeLeaders } from './leader-observer.js';
import { Nemesis } from './nemesis.js';
import { seededRng } from './rng.js';
import {
  now,
  PREFIX,
  prefixEnd,
  runKvClients,
  runLeaseClients,
  Watcher,
  writeOutcomeOfError,
} from './workload.js';
import { runListAppendClients } from './workload-txn.js';

export interface RunOptions {
  seed: number;
  durationMs: number;
  faults: string[];
  clients?: number;
  keys?: number;
  watchers?: number;
  leaseWorkers?: number;
  leaseTtlSeconds?: number;
  /**
   * Compact every this many ms during the workload (0/absent = never). Watchers that fall behind a
   * compaction must end with etcd's compacted error; the truth then comes from a recorder watcher.
   */
  compactEveryMs?: number;
  /**
   * Keep running past `durationMs` (for at most another `durationMs`) until this many compactions
   * succeeded: on a loaded machine faults make many attempts fail, and a bounded run must still
   * compact during faults rather than count on a rate.
   */
  minCompactions?: number;
  /** Two faults at once, from different groups (see Nemesis). */
  combineFaults?: boolean;
  /** Clients running multi-key list-append transactions (default 2; 0 = none). */
  txnClients?: number;
  /** Keys those transactions spread over (default 5). */
  txnKeys?: number;
  gapMs?: [number, number];
  holdMs?: [number, number];
  /**
   * Snapshot every this many applied entries and keep only a few entries for slow followers, so
   * restarted members catch up by snapshot (default 300; 0 = etcd's defaults).
   */
  snapshotCount?: number;
  /** Write the full history (JSON) here. */
  historyOut?: string;
  /** Extra environment of every member process (e.g. a deliberately broken build's switch). */
  memberEnv?: Record<string, string>;
  log?: (line: string) => void;
}

export interface RunSummary {
  seed: number;
  faults: string[];
  durationMs: number;
  faultsInjected: Record<string, number>;
  ops: { total: number; ok: number; fail: number; unknown: number; byType: Record<string, number> };
  /** Compactions done during the workload. */
  compactions: number;
  /** Watchers that fell behind a compaction and ended with etcd's compacted error. */
  watchersCompacted: number;
  /** The multi-key list-append transactions. */
  txns: { total: number; ok: number; fail: number; unknown: number };
  watchEvents: number;
  leaseKeysExpired: number;
  finalRevision: number;
  /** Leader changes and snapshots sent/received, summed over all member processes (lower bounds). */
  cluster: Record<string, number>;
  /** Restarted members that exited by themselves before becoming healthy (restarted again). */
  exitedAtStart: string[];
  /** Membership changes the nemesis made, by type (add-voter, add-learner, promote, remove). */
  membershipChanges: Record<string, number>;
  /** Removed members restarted on their old data: how many, and how many were told and refused all. */
  removedMembers: { restarted: number; toldRemoved: number; served: number };
  /** Distinct Raft terms with a leader seen in the Status polls, and how many polls answered. */
  leaderTerms: number;
  statusPolls: number;
  violations: number;
  undecided: number;
  checks: { checker: string; checked: number; violations: number; undecided: number }[];
}

export interface RunResult {
  history: History;
  results: CheckResult[];
  summary: RunSummary;
}

/** Every violation and undecided check of a run, one line each (what a test asserts empty or not). */
export function problemsOf(r: RunResult): string[] {
  return r.results.flatMap((x) => [
    ...x.violations.map((v) => `${v.checker}/${v.kind}: ${v.detail}`),
    ...x.undecided.map((u) => `${x.checker} undecided: ${u}`),
  ]);
}

const b = (s: string) => Buffer.from(s);
const TRUTH_TIMEOUT_MS = 60_000;

/** Every event on the prefix from revision 1 up to `upTo`, through a watch on `c`. */
async function eventsBetween(c: EtcdClients, from: number, upTo: number): Promise<GroundTruth['events']> {
  const events: GroundTruth['events'] = [];
  if (upTo <= 1 || from > upTo) return events;
  const def = rpc.WatchService.watch;
  const call = c.raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`ground-truth watch did not reach revision ${upTo}`)),
        TRUTH_TIMEOUT_MS,
      );
      call.on('data', (r: rpc.WatchResponse) => {
        if (r.canceled) {
          clearTimeout(timer);
          reject(
            new Error(
              `ground-truth watch from ${from} canceled: compacted at ${r.compactRevision} ${r.cancelReason}`,
            ),
          );
          return;
        }
        for (const e of r.events) {
          const rev = Number(e.kv?.modRevision ?? 0n);
          if (rev > upTo) continue;
          events.push({
            type: e.type === 1 ? 'delete' : 'put',
            key: e.kv?.key.toString() ?? '',
            value: e.kv?.value.toString() ?? '',
            modRevision: rev,
          });
        }
        const last = r.events[r.events.length - 1];
        if (last && Number(last.kv?.modRevision ?? 0n) >= upTo) {
          clearTimeout(timer);
          resolve();
        }
      });
      call.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      call.write(
        rpc.WatchRequest.fromPartial({
          createRequest: { key: b(PREFIX), rangeEnd: prefixEnd(PREFIX), startRevision: BigInt(from) },
        }),
      );
    });
  } finally {
    call.cancel();
  }
  return events;
}

/** Reads the final state: a linearizable revision, then every member's event history and hash at it. */
/**
 * Reads the final state from every member. Without compaction the event history is each member's
 * watch from revision 1. With compaction (`recorder` given) the early history is gone from the
 * members: the truth is the recorder's stream (a watcher from revision 1 that compaction never
 * overtakes), and each member's history after the last compaction must equal the recorder's tail.
 */
async function readGroundTruth(
  cluster: Cluster,
  compacted: { revision: number; recorder: Watcher } | undefined,
): Promise<GroundTruth> {
  const clients = cluster.members.map((m) => connect(m.client));
  try {
    const head = await waitFor(
      async () => clients[0]!.kv.range({ key: b(PREFIX), rangeEnd: prefixEnd(PREFIX), countOnly: true }),
      { timeoutMs: TRUTH_TIMEOUT_MS, what: 'a linearizable read for the final revision' },
    );
    const revision = Number(head.header!.revision);
    const finalRange = await clients[0]!.kv.range({
      key: b(PREFIX),
      rangeEnd: prefixEnd(PREFIX),
      revision: BigInt(revision),
    });
    const final = new Map<string, KeyState>();
    for (const kv of finalRange.kvs)
      final.set(kv.key.toString(), {
        value: kv.value.toString(),
        modRevision: Number(kv.modRevision),
        createRevision: Number(kv.createRevision),
        version: Number(kv.version),
      });
    let events: GroundTruth['events'] = [];
    const replicas: GroundTruth['replicas'] = [];
    for (let i = 0; i < clients.length; i++) {
      const c = clients[i]!;
      let at = 0;
      const reached = await waitFor(
        async () => {
          const r = await c.kv.range({ key: b(PREFIX), countOnly: true, serializable: true });
          at = Number(r.header!.revision);
          return at >= revision;
        },
        { timeoutMs: TRUTH_TIMEOUT_MS, what: `member ${i} applied revision ${revision}` },
      ).then(
        () => true,
        () => false,
      );
      if (!reached) {
        // Serving but behind for good: its store lost or skipped writes (a checker violation, with
        // its log), not a run error.
        const log = cluster.members[i]!.log.slice(-1500);
        replicas.push({
          member: i,
          eventsDigest: `behind at ${at}`,
          hashKv: `behind at ${at}`,
          stuckAt: at,
          log,
        });
        continue;
      }
      const ev = await eventsBetween(c, (compacted?.revision ?? 0) + 1, revision);
      const hash = await c.maintenance.hashKv({ revision: BigInt(revision) });
      replicas.push({ member: i, eventsDigest: digest(ev), hashKv: String(hash.hash) });
      if (events.length === 0) events = ev; // the first member that reached the revision
    }
    if (compacted) {
      const { recorder } = compacted;
      await waitFor(() => recorder.lastRevision >= revision || recorder.record.aborted !== undefined, {
        timeoutMs: TRUTH_TIMEOUT_MS,
        what: `the recorder reached revision ${revision}`,
      });
      if (recorder.record.aborted)
        throw new Error(`the truth recorder was cut off: ${recorder.record.aborted}`);
      const recorded = recorder.record.events
        .filter((e) => e.modRevision <= revision)
        .map(({ type, key, value, modRevision }) => ({ type, key, value, modRevision }));
      const tail = recorded.filter((e) => e.modRevision > compacted.revision);
      // The recorder's tail must be the members' history: a replica like the others.
      replicas.push({ member: -1, eventsDigest: digest(tail), hashKv: replicas[0]?.hashKv ?? '' });
      events = recorded;
    }
    return { revision, events, final, replicas };
  } finally {
    for (const c of clients) c.close();
  }
}

const digest = (ev: GroundTruth['events']) =>
  createHash('sha256').update(JSON.stringify(ev)).digest('hex').slice(0, 16);

/** History kept behind the head when compacting (the late watcher and readers still fall behind it). */
const COMPACT_KEEP_REVISIONS = 20;

/**
 * Compacts every `everyMs` to `head - COMPACT_KEEP_REVISIONS`, never past the recorder (which must
 * see every event); records each compaction. Faults make some attempts fail: they are retried next time.
 */
async function runCompactor(
  cluster: Cluster,
  everyMs: number,
  recorder: Watcher,
  done: number[],
  stopped: () => boolean,
): Promise<void> {
  let i = 0;
  while (!stopped()) {
    await new Promise((r) => setTimeout(r, everyMs));
    if (stopped()) return;
    const m = cluster.members[i++ % cluster.members.length]!;
    const c = connect(m.client);
    try {
      const head = Number(
        (await c.kv.range({ key: b(PREFIX), countOnly: true }, { deadlineMs: 3000 })).header!.revision,
      );
      const target = Math.min(head - COMPACT_KEEP_REVISIONS, recorder.lastRevision);
      if (target > (done[done.length - 1] ?? 0)) {
        try {
          await c.kv.compact({ revision: BigInt(target) }, { deadlineMs: 3000 });
        } catch (e) {
          // A compaction whose answer was lost may have been applied: the truth must start after
          // it (a watch from before it gets etcd's compacted answer), so it is recorded as well.
          if (writeOutcomeOfError(e) === 'unknown') done.push(target);
          throw e;
        }
        done.push(target);
      }
    } catch {
      // member down or cut off: the next round tries another
    } finally {
      c.close();
    }
  }
}

/** Resolves after `durationMs`, or later while fewer than `minCompactions` compactions succeeded. */
async function runLongEnough(o: RunOptions, compactions: () => number): Promise<void> {
  await new Promise((r) => setTimeout(r, o.durationMs));
  const cap = Date.now() + o.durationMs;
  while (compactions() < (o.minCompactions ?? 0) && Date.now() < cap)
    await new Promise((r) => setTimeout(r, 250));
}

export async function runJepsen(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? (() => {});
  const rng = seededRng(o.seed);
  const snapshotCount = o.snapshotCount ?? 300;
  const cluster =
    snapshotCount > 0
      ? await Cluster.start(3, ['--snapshot-count', String(snapshotCount)], {
          ...o.memberEnv,
          TSETCD_FAILPOINT_SNAPSHOT_CATCHUP_ENTRIES: String(Math.max(10, Math.floor(snapshotCount / 6))),
        })
      : await Cluster.start(3, [], o.memberEnv);
  let nemesisRef: Nemesis | undefined;
  // Watchers reconnect forever: a run that throws must still stop them, or the process never exits.
  const watchersToStop: Watcher[] = [];
  try {
    const c0 = connect(cluster.members[0]!.client);
    const ml = await waitFor(async () => c0.cluster.memberList({}), { what: 'member list' });
    c0.close();
    for (const m of cluster.members) {
      const info = ml.members.find((x) => x.name === m.name);
      if (!info) throw new Error(`member ${m.name} not in the member list`);
      m.id = info.ID.toString();
    }
    log(`cluster up: ${cluster.members.map((m) => `${m.name}=${m.client}`).join(' ')}`);

    const ops: KvOp[] = [];
    const listTxns: ListTxn[] = [];
    const leaseOps: LeaseOp[] = [];
    const leaseKeys: LeaseKey[] = [];
    let stop = false;
    const stopped = () => stop;
    const watchers = Array.from({ length: o.watchers ?? 3 }, (_, i) => new Watcher(i, i, 1, cluster.members));
    for (const w of watchers) w.start();
    watchersToStop.push(...watchers);
    const compactions: number[] = [];
    const leaderObservations: LeaderObservation[] = [];
    const recorder = o.compactEveryMs ? new Watcher(-1, 0, 1, cluster.members) : undefined;
    recorder?.start();
    if (recorder) watchersToStop.push(recorder);
    // Halfway through, one more watcher starts from an old revision (half the current one): it must
    // replay history from the store, then switch to live events without a gap or a duplicate.
    const lateWatcher = setTimeout(async () => {
      for (const m of cluster.members) {
        const c = connect(m.client);
        try {
          const r = await c.kv.range(
            { key: b(PREFIX), countOnly: true, serializable: true },
            { deadlineMs: 3000 },
          );
          if (stop) return;
          const start = Math.max(1, Math.floor(Number(r.header!.revision) / 2));
          const w = new Watcher(watchers.length, m.index, start, cluster.members);
          watchers.push(w);
          w.start();
          watchersToStop.push(w);
          return;
        } catch {
          // this member is down or cut off right now: try the next
        } finally {
          c.close();
        }
      }
    }, o.durationMs / 2);
    const nemesis = new Nemesis(cluster, {
      faults: o.faults,
      rng: seededRng(o.seed ^ 0x5eed),
      gapMs: o.gapMs ?? [1000, 3000],
      holdMs: o.holdMs ?? [1500, 5000],
      combine: o.combineFaults ?? false,
    });
    nemesisRef = nemesis;
    const started = now();
    const tasks = [
      runKvClients(
        { clients: o.clients ?? 6, keys: o.keys ?? 10, rng, members: cluster.members },
        ops,
        stopped,
      ),
      runLeaseClients(
        {
          rng: seededRng(o.seed ^ 0x1ea5e),
          members: cluster.members,
          ttlSeconds: o.leaseTtlSeconds ?? 3,
          concurrency: o.leaseWorkers ?? 2,
        },
        leaseOps,
        leaseKeys,
        stopped,
      ),
      runListAppendClients(
        {
          clients: o.txnClients ?? 2,
          keys: o.txnKeys ?? 5,
          rng: seededRng(o.seed ^ 0x7a7a),
          members: cluster.members,
        },
        listTxns,
        stopped,
      ),
      nemesis.run(stopped),
      observeLeaders(() => nemesis.membership.processes(), leaderObservations, stopped),
      ...(recorder && o.compactEveryMs
        ? [runCompactor(cluster, o.compactEveryMs, recorder, compactions, stopped)]
        : []),
    ];
    const progress = setInterval(() => {
      log(
        `t=${((now() - started) / 1000).toFixed(0)}s ops=${ops.length} ok=${ops.filter((x) => x.outcome === 'ok').length} faults=${nemesis.faults.length}`,
      );
    }, 10_000);
    try {
      // The tasks only finish after `stop`: finishing earlier means one failed (e.g. no recovery).
      await Promise.race([runLongEnough(o, () => compactions.length), Promise.all(tasks)]);
      stop = true;
      await Promise.all(tasks);
    } catch (e) {
      stop = true;
      for (const w of watchers) w.stop();
      await Promise.allSettled(tasks);
      if (o.historyOut)
        writeFileSync(
          `${o.historyOut}.partial`,
          JSON.stringify({ seed: o.seed, ops, faults: nemesis.faults, leaseOps }),
        );
      throw e;
    } finally {
      clearInterval(progress);
      clearTimeout(lateWatcher);
    }
    const durationMs = now() - started;
    log(`workload done after ${(durationMs / 1000).toFixed(1)} s; reading the ground truth`);

    await nemesis.healAll();
    const lastCompaction = compactions[compactions.length - 1];
    const truth = await readGroundTruth(
      cluster,
      recorder && lastCompaction !== undefined ? { revision: lastCompaction, recorder } : undefined,
    );
    recorder?.stop();
    // Let every watcher deliver up to the final revision, so a watcher that silently lost events at
    // the end is caught (its stream is checked up to the last revision it got).
    const lastEventRev = truth.events.length ? truth.events[truth.events.length - 1]!.modRevision : 0;
    await waitFor(() => watchers.every((w) => w.lastRevision >= lastEventRev || w.record.aborted), {
      timeoutMs: 30_000,
      what: 'watchers caught up',
    }).catch(() => {});
    for (const w of watchers) {
      w.stop();
      if (w.lastRevision < lastEventRev && !w.record.aborted)
        w.record.lagging = `stopped at revision ${w.lastRevision}, history ends at ${lastEventRev}`;
    }

    const history: History = {
      seed: o.seed,
      ops,
      watchers: watchers.map((w) => w.record),
      leaseOps,
      leaseKeys,
      faults: nemesis.faults,
      truth,
      durationMs,
      listTxns,
      compactions,
      leaderObservations,
      membershipChanges: nemesis.membership.changes,
      removedMembers: nemesis.membership.removedChecks,
    };
    if (o.historyOut) writeFileSync(o.historyOut, JSON.stringify(historyToJson(history)));
    const results = checkAll(history);
    const summary = summarize(history, results, o);
    await nemesis.membership.cleanup();
    await cluster.destroy();
    summary.cluster = Object.fromEntries(cluster.counters);
    summary.exitedAtStart = nemesis.exitedAtStart;
    return { history, results, summary };
  } finally {
    for (const w of watchersToStop) w.stop();
    await nemesisRef?.membership.cleanup();
    await cluster.destroy();
  }
}

export function historyToJson(h: History): unknown {
  return { ...h, truth: { ...h.truth, final: Object.fromEntries(h.truth.final) } };
}

export function historyFromJson(j: unknown): History {
  const h = j as History & { truth: { final: Record<string, KeyState> } };
  return { ...h, truth: { ...h.truth, final: new Map(Object.entries(h.truth.final)) } };
}

export function summarize(
  h: History,
  results: CheckResult[],
  o: Pick<RunOptions, 'faults' | 'seed'>,
): RunSummary {
  const faultsInjected: Record<string, number> = {};
  for (const f of h.faults) faultsInjected[f.kind] = (faultsInjected[f.kind] ?? 0) + 1;
  const byType: Record<string, number> = {};
  for (const op of h.ops) byType[op.type] = (byType[op.type] ?? 0) + 1;
  const count = (x: string) => h.ops.filter((op) => op.outcome === x).length;
  return {
    seed: o.seed,
    faults: o.faults,
    durationMs: Math.round(h.durationMs),
    faultsInjected,
    ops: { total: h.ops.length, ok: count('ok'), fail: count('fail'), unknown: count('unknown'), byType },
    compactions: h.compactions?.length ?? 0,
    watchersCompacted: h.watchers.filter((w) => w.aborted?.startsWith('compacted')).length,
    txns: {
      total: h.listTxns?.length ?? 0,
      ok: h.listTxns?.filter((t) => t.outcome === 'ok').length ?? 0,
      fail: h.listTxns?.filter((t) => t.outcome === 'fail').length ?? 0,
      unknown: h.listTxns?.filter((t) => t.outcome === 'unknown').length ?? 0,
    },
    watchEvents: h.watchers.reduce((n, w) => n + w.events.length, 0),
    leaseKeysExpired: results.find((r) => r.checker === 'lease')?.checked ?? 0,
    finalRevision: h.truth.revision,
    cluster: {},
    exitedAtStart: [],
    membershipChanges: count2(h.membershipChanges?.map((c) => c.type) ?? []),
    removedMembers: {
      restarted: h.removedMembers?.length ?? 0,
      toldRemoved: h.removedMembers?.filter((r) => r.toldRemoved).length ?? 0,
      served: h.removedMembers?.filter((r) => r.succeeded > 0).length ?? 0,
    },
    leaderTerms: new Set(h.leaderObservations?.filter((o) => o.leader !== '0').map((o) => o.term)).size,
    statusPolls: h.leaderObservations?.length ?? 0,
    violations: results.reduce((n, r) => n + r.violations.length, 0),
    undecided: results.reduce((n, r) => n + r.undecided.length, 0),
    checks: results.map((r) => ({
      checker: r.checker,
      checked: r.checked,
      violations: r.violations.length,
      undecided: r.undecided.length,
    })),
  };
}

/** Occurrences of each string. */
function count2(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
