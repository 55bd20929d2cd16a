/**
 * `tsetcd lab lb`: seed 000 as one command. A three-member cluster on one machine (started here on
 * free ports, the seed's 12379/22379/32379 with --seed-ports, or given with --endpoints), a paced
 * workload of Puts through `tsetcd/client` once per mode (lb-client.ts: round_robin, pick_first,
 * dns:/// + round_robin, and with --add the client's membership mode), and two independent counts
 * of where the requests went: each member's own `grpc_server_handled_total` for KV.Put (its
 * /metrics, read before and after on a control address no client uses), and — as root with tcpdump
 * installed — TCP segments with PSH set sent to each member's client addresses, the seed's tcpdump
 * filter (with its `or`/`and` precedence fixed). A third attribution, the member_id in each response
 * header, gives the timeline (Puts per member per second) and the latencies.
 *
 * Scenarios (each a flag, applied in every mode): --kill SIGKILLs the member with the most Puts after
 * a third of them (restarted before the next mode); --add adds a member after a third (removed again
 * after the mode); --slow makes the first follower slow for the whole run (lb-cluster.ts,
 * startSlowBursts, says how and why).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../../client/index.js';
import { ClusterDns, type QueryLog, TYPE_A, TYPE_AAAA, TYPE_TXT } from './dns.js';
import {
  type LbClient,
  type LbClientFactory,
  type LbMode,
  modeTarget,
  PUT_TIMEOUT_MS,
  tsetcdClient,
} from './lb-client.js';
import {
  isRunning,
  LabCluster,
  type LabMember,
  MEMBER_START_TIMEOUT_MS,
  startSlowBursts,
} from './lb-cluster.js';
import { LabError } from './net.js';

export { LB_MODES, type LbClient, type LbClientFactory, type LbMode } from './lb-client.js';

/** The DNS name the lab's DNS server answers with the members' dns:/// addresses. */
export const LB_DNS_NAME = 'tsetcd-lb';
/** Bound on the DNS queries the lab keeps. */
const DNS_LOG_MAX = 10_000;
const DNS_TYPE_NAMES: Record<number, string> = { [TYPE_A]: 'A', [TYPE_AAAA]: 'AAAA', [TYPE_TXT]: 'TXT' };
/** With --add: Puts go on at least this long after the new member answers /health, in ms. */
export const ADD_OBSERVE_MS = 3000;
/** With --slow: the slow member is stopped this long of every SLOW_PERIOD_MS by default. */
export const SLOW_STOPPED_MS = 50;
/** The period of the slow member's stop/continue bursts, in ms (CFS's default period, 100 ms). */
export const SLOW_PERIOD_MS = 100;
/** Bound on one mode's run beyond its paced length (a stuck run fails instead of hanging). */
const RUN_SLACK_MS = 60_000;

/** Whether a member's /metrics says it is the leader (etcd_server_is_leader 1). */
export function isLeader(metrics: string): boolean {
  return /^etcd_server_is_leader(\{[^}]*\})? 1$/m.test(metrics);
}

/** KV.Put handled (any code) according to a member's /metrics. */
export function putsHandled(metrics: string): number {
  let n = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('grpc_server_handled_total{')) continue;
    if (!line.includes('grpc_method="Put"') || !line.includes('grpc_service="etcdserverpb.KV"')) continue;
    n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

/** The value at quantile q (0..1) of ascending `sorted`, nearest rank; null when empty. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** One member's numbers in one mode. */
export interface LbMemberCount {
  member: string;
  endpoint: string;
  /** KV.Put RPCs it handled (its own counter's increase). */
  requests: number;
  /** PSH segments sent to its client addresses (null: not captured). */
  packets: number | null;
  /** requests / all requests of this mode. */
  share: number;
  /** Latency of the Puts it answered (by response header), ms; null: none. */
  latencyMsP50: number | null;
  latencyMsP99: number | null;
}

/** What happened when the busiest member was killed mid-run (`--kill`). */
export interface LbKill {
  member: string;
  /** Whether it was the Raft leader (its etcd_server_is_leader was 1). */
  wasLeader: boolean;
  /** Puts sent before the kill. */
  afterPuts: number;
  /** ms since the mode's first Put when it was killed. */
  atMs: number;
  /** ms from the kill to the next successful Put; null: none succeeded. */
  failoverMs: number | null;
  /** Puts that failed after the kill. */
  failuresAfter: number;
  /** Puts each member handled after the kill (the killed one: 0). */
  putsAfter: number[];
}

/** A member added mid-run (`--add`). */
export interface LbAdd {
  member: string;
  /** Puts sent before MemberAdd. */
  afterPuts: number;
  /** ms since the mode's first Put: MemberAdd sent, and the new member healthy. */
  addedAtMs: number;
  healthyAtMs: number;
  /** ms from healthy to the first Put it answered; null: it got none. */
  firstPutMs: number | null;
  /** Puts it handled (its own counter). */
  puts: number;
}

/** The slow member of a run (`--slow`). */
export interface LbSlow {
  member: string;
  /** Stopped this many ms of every periodMs. */
  stoppedMs: number;
  periodMs: number;
  /** Stop bursts during the run. */
  bursts: number;
  /** Whether it was the member pick_first used (it had most of the Puts). */
  busiest: boolean;
}

/** One mode's run. */
export interface LbPolicyResult {
  policy: LbMode;
  /** What the client was given (static endpoints, a dns:/// name, MemberList). */
  target: string;
  /** Puts sent. */
  requests: number;
  failures: number;
  members: LbMemberCount[];
  /** Latency of every successful Put, ms. */
  latencyMsP50: number | null;
  latencyMsP99: number | null;
  kill?: LbKill;
  add?: LbAdd;
  slow?: LbSlow;
  /**
   * Successful Puts per second since the mode's first Put, per member (by the answering member's
   * id in each response header): timeline[s][i] for member i (of `members`).
   */
  timeline: number[][];
  /** Failed Puts per second. */
  timelineFailures: number[];
  /**
   * dns_round_robin: the queries the lab's DNS server answered during the run (grpc-js asks A, AAAA
   * and TXT per resolution): when (ms since the first Put), type, and how many addresses it gave.
   */
  dnsQueries?: { atMs: number; type: string; answers: number }[];
}

/** The whole run (`-w json`). */
export interface LbResult {
  binary: string;
  endpoints: string[];
  /** Puts per second the workload is paced at. */
  rate: number;
  /** Why packets were not counted, when they were not. */
  packetsNote?: string;
  /** Modes left out, and why. */
  notes?: string[];
  policies: LbPolicyResult[];
}

/** Options of `runLbLab`. */
export interface LbOptions {
  /** Puts per mode (at least; --add runs on until the new member was seen for ADD_OBSERVE_MS). */
  requests: number;
  /** Puts per second; default 100. */
  rate?: number;
  /** host:port of each member's client URL; empty: start a cluster here. */
  endpoints: string[];
  /** When starting a cluster: the seed's ports instead of free ones. */
  seedPorts: boolean;
  /** When starting a cluster: tsetcd (default) or etcd from PATH (a reference run). */
  binary: 'tsetcd' | 'etcd';
  root: string;
  /** Modes to run; default round_robin, pick_first, dns_round_robin (+ members_round_robin with add). */
  modes?: LbMode[];
  client?: LbClientFactory;
  /** Kill (SIGKILL) the busiest member after a third of each mode's Puts, restart it after. */
  kill?: boolean;
  /** Add a member after a third of each mode's Puts, remove it after. */
  add?: boolean;
  /** Make the first follower slow (SIGSTOP bursts) during each mode. */
  slow?: boolean;
  /** --slow: ms stopped of every SLOW_PERIOD_MS; default SLOW_STOPPED_MS. */
  slowStoppedMs?: number;
  log: (line: string) => void;
}

async function get(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(PUT_TIMEOUT_MS) });
  return r.text();
}

/** Why tcpdump cannot count packets here, or undefined when it can. */
function packetCaptureUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'packets not counted: tcpdump needs root';
  try {
    execFileSync('sh', ['-c', 'command -v tcpdump'], { stdio: 'ignore' });
  } catch {
    return 'packets not counted: tcpdump is not installed (apt-get install tcpdump)';
  }
  return undefined;
}

/**
 * Starts tcpdump on lo for PSH segments to the given host:port addresses; stop() resolves with
 * counts per address.
 */
interface Capture {
  /** Stops tcpdump (once; later calls give the same counts): PSH segments per address. */
  stop: () => Promise<Map<string, number>>;
}

async function capture(addrs: readonly string[]): Promise<Capture> {
  const terms = addrs.map((a) => {
    const i = a.lastIndexOf(':');
    return `(dst host ${a.slice(0, i)} and dst port ${a.slice(i + 1)})`;
  });
  const filter = `(tcp[tcpflags] & tcp-push != 0) and (${terms.join(' or ')})`;
  const p = spawn('tcpdump', ['-nn', '-l', '-i', 'lo', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  p.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const deadline = Date.now() + 10_000;
  while (!/listening on/.test(err)) {
    if (p.exitCode !== null || Date.now() > deadline) {
      p.kill('SIGKILL');
      throw new LabError(`tcpdump did not start: ${err.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  let stopped: Promise<Map<string, number>> | undefined;
  return {
    stop: () => {
      stopped ??= stopCapture();
      return stopped;
    },
  };
  async function stopCapture(): Promise<Map<string, number>> {
    {
      p.kill('SIGINT');
      await new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)));
      const counts = new Map(addrs.map((a) => [a, 0]));
      for (const line of out.split('\n')) {
        const m = / > (\d+\.\d+\.\d+\.\d+)\.(\d+): /.exec(line);
        const key = m ? `${m[1]}:${m[2]}` : undefined;
        if (key !== undefined && counts.has(key)) counts.set(key, counts.get(key)! + 1);
      }
      return counts;
    }
  }
}

/** One Put as the client saw it. */
interface PutEvent {
  /** ms since the mode's first Put when it was sent. */
  t: number;
  /** Its latency, ms. */
  ms: number;
  /** Index of the answering member; -1: failed; -2: an id the lab does not know. */
  member: number;
}

/** What one mode needs of the members: the lab's cluster, or --endpoints. */
interface Members {
  /** Name, endpoint, its dns:/// address, and the addresses packets to it arrive at. */
  list(): { name: string; endpoint: string; dnsAddress?: string; addrs: string[] }[];
  /** Put counters of every member (0 for one not running). */
  counters(): Promise<number[]>;
  /** Member id -> index. */
  indexOf(id: bigint): number;
}

/** Runs the lab; stops what it started (members, tcpdump, DNS, workers) and removes its data dirs. */
export async function runLbLab(opts: LbOptions): Promise<LbResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-lab-lb-'));
  let cluster: LabCluster | undefined;
  const dnsLog: QueryLog[] = [];
  const dns = new ClusterDns((q) => {
    if (dnsLog.length < DNS_LOG_MAX) dnsLog.push(q);
  });
  const onSignal = (sig: NodeJS.Signals) => {
    cluster?.killAllNow();
    rmSync(dir, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rate = opts.rate ?? 100;
  const notes: string[] = [];
  try {
    const external = opts.endpoints.length > 0;
    if (external && (opts.kill || opts.add || opts.slow))
      throw new LabError('--kill, --add and --slow need a cluster the lab starts (no --endpoints)');
    let members: Members;
    let endpoints: string[];
    let dnsTarget: string | undefined;
    if (external) {
      endpoints = opts.endpoints;
      const ids = new Map<bigint, number>();
      const c = new Client({ endpoints, callTimeoutMs: PUT_TIMEOUT_MS });
      try {
        for (const m of (await c.cluster.list()).members) {
          const urls = m.clientURLs.map((u) => u.replace(/^https?:\/\//, ''));
          const i = endpoints.findIndex((ep) => urls.includes(ep));
          if (i >= 0) ids.set(m.ID, i);
        }
      } finally {
        c.close();
      }
      members = {
        list: () => endpoints.map((ep, i) => ({ name: `node${i + 1}`, endpoint: ep, addrs: [ep] })),
        counters: () =>
          Promise.all(endpoints.map(async (ep) => putsHandled(await get(`http://${ep}/metrics`)))),
        indexOf: (id) => ids.get(id) ?? -2,
      };
    } else {
      opts.log(`starting 3 ${opts.binary} members (${opts.seedPorts ? "seed 000's ports" : 'free ports'})`);
      const c = await LabCluster.start({
        binary: opts.binary,
        seedPorts: opts.seedPorts,
        root: opts.root,
        dir,
      });
      cluster = c;
      endpoints = c.members.map((m) => m.endpoint);
      setDnsRecords(dns, c);
      const dnsPort = await dns.listen('127.0.0.1', 0);
      dnsTarget = `dns://127.0.0.1:${dnsPort}/${LB_DNS_NAME}:${c.dnsPort}`;
      members = {
        list: () =>
          c.members.map((m) => ({
            name: m.name,
            endpoint: m.endpoint,
            dnsAddress: m.dnsAddress,
            addrs: [m.endpoint, m.dnsAddress],
          })),
        counters: () =>
          Promise.all(c.members.map(async (m) => (isRunning(m) ? putsHandled(await c.metrics(m)) : 0))),
        indexOf: (id) => c.members.findIndex((m) => m.id === id && id !== 0n),
      };
    }
    const packetsNote = packetCaptureUnavailable();
    if (packetsNote) opts.log(packetsNote);
    let modes: LbMode[] =
      opts.modes ??
      ([
        'round_robin',
        'pick_first',
        'dns_round_robin',
        ...(opts.add ? ['members_round_robin'] : []),
      ] as LbMode[]);
    if (external && modes.includes('dns_round_robin')) {
      modes = modes.filter((m) => m !== 'dns_round_robin');
      notes.push('dns_round_robin left out: it needs the members the lab starts (one loopback IP each)');
    }
    const factory = opts.client ?? tsetcdClient;
    const policies: LbPolicyResult[] = [];
    for (const mode of modes) {
      policies.push(
        await runMode(mode, {
          opts,
          rate,
          cluster,
          members,
          packetsNote,
          dns,
          dnsLog,
          client: () => factory(mode, { endpoints, dnsTarget }),
        }),
      );
      const p = policies.at(-1)!;
      opts.log(
        `${mode}: ${p.members.map((m) => m.requests).join('/')} Puts per member, ${p.failures} failed, p99 ${p.latencyMsP99?.toFixed(1)} ms`,
      );
    }
    return {
      binary: external ? 'external' : opts.binary,
      endpoints,
      rate,
      ...(packetsNote ? { packetsNote } : {}),
      ...(notes.length > 0 ? { notes } : {}),
      policies,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await dns.close();
    await cluster?.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Points the DNS name at every member's dns:/// address (as a headless Service lists its pods). */
function setDnsRecords(dns: ClusterDns, cluster: LabCluster): void {
  dns.setRecords({ [LB_DNS_NAME]: cluster.members.map((m) => m.dnsAddress.split(':')[0]!) });
}

interface ModeContext {
  opts: LbOptions;
  rate: number;
  cluster: LabCluster | undefined;
  members: Members;
  packetsNote: string | undefined;
  dns: ClusterDns;
  /** Queries the DNS server answered so far. */
  dnsLog: readonly QueryLog[];
  client: () => LbClient;
}

/** One mode: the paced Puts, the scenario's action after a third, the counts. */
async function runMode(mode: LbMode, ctx: ModeContext): Promise<LbPolicyResult> {
  const { opts, cluster, members } = ctx;
  const n = opts.requests;
  const cut = Math.floor(n / 3);
  // A member to add is described first, so its addresses are in the packet capture.
  const toAdd = opts.add && cluster ? await cluster.describeNext() : undefined;
  const addrsOf = () => [
    ...members.list().flatMap((m) => m.addrs),
    ...(toAdd ? [toAdd.endpoint, toAdd.dnsAddress] : []),
  ];
  const leaders = cluster
    ? await Promise.all(cluster.members.map(async (m) => isLeader(await cluster.metrics(m))))
    : [];
  let slowMember: LabMember | undefined;
  if (opts.slow && cluster) {
    slowMember = cluster.members.find((_, i) => !leaders[i]);
    if (!slowMember) throw new LabError('--slow: no follower to slow down');
  }
  const before = await members.counters();
  const cap = ctx.packetsNote ? undefined : await capture(addrsOf());
  try {
    return await runModeCaptured(mode, ctx, { cut, toAdd, leaders, slowMember, before, cap });
  } finally {
    await cap?.stop(); // idempotent: a run that failed leaves no tcpdump behind
  }
}

/** runMode's part inside the packet capture. */
async function runModeCaptured(
  mode: LbMode,
  ctx: ModeContext,
  s: {
    cut: number;
    toAdd: LabMember | undefined;
    leaders: boolean[];
    slowMember: LabMember | undefined;
    before: number[];
    cap: Capture | undefined;
  },
): Promise<LbPolicyResult> {
  const { opts, rate, cluster, members } = ctx;
  const { cut, toAdd, leaders, slowMember, before, cap } = s;
  const n = opts.requests;
  const queriesBefore = ctx.dnsLog.length;
  const client = ctx.client();
  await client.ready();
  const slowStoppedMs = opts.slowStoppedMs ?? SLOW_STOPPED_MS;
  const slow = slowMember?.proc ? startSlowBursts(slowMember.proc, slowStoppedMs, SLOW_PERIOD_MS) : undefined;
  const events: PutEvent[] = [];
  let kill: LbKill | undefined;
  let killMid: number[] = [];
  let killVictim = -1;
  let added: { m: LabMember; addedAtMs: number; healthyAtMs?: number } | undefined;
  let adding: Promise<void> | undefined;
  let addError: unknown;
  const t0 = performance.now();
  const wall0 = Date.now();
  const deadline = t0 + (n / rate) * 1000 + RUN_SLACK_MS + MEMBER_START_TIMEOUT_MS;
  try {
    for (let i = 0; ; i++) {
      if (addError !== undefined) throw addError;
      const now = performance.now();
      if (now > deadline) throw new LabError(`${mode}: the run did not finish in time`);
      const observing =
        added !== undefined &&
        (added.healthyAtMs === undefined || now - t0 < added.healthyAtMs + ADD_OBSERVE_MS);
      if (i >= n && !observing) break;
      if (i === cut && cluster && opts.kill) {
        const sofar = members.list().map((_, m) => events.filter((e) => e.member === m).length);
        killVictim = sofar.indexOf(Math.max(...sofar));
        const victim = cluster.members[killVictim]!;
        killMid = await members.counters();
        await cluster.kill(victim);
        kill = {
          member: victim.name,
          wasLeader: leaders[killVictim] === true,
          afterPuts: cut,
          atMs: performance.now() - t0,
          failoverMs: null,
          failuresAfter: 0,
          putsAfter: [],
        };
        opts.log(`${mode}: killed ${victim.name} after ${cut} Puts`);
      }
      if (i === cut && cluster && toAdd) {
        added = { m: toAdd, addedAtMs: performance.now() - t0 };
        const a = added;
        adding = cluster.add(toAdd).then(
          () => {
            a.healthyAtMs = performance.now() - t0;
            setDnsRecords(ctx.dns, cluster);
            opts.log(
              `${mode}: added ${toAdd.name} (healthy after ${((a.healthyAtMs - a.addedAtMs) / 1000).toFixed(1)} s)`,
            );
          },
          (e: unknown) => {
            addError = e;
          },
        );
      }
      const wait = t0 + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const s = performance.now();
      try {
        const id = await client.put(`lab/${mode}/${i}`, String(i));
        events.push({ t: s - t0, ms: performance.now() - s, member: members.indexOf(id) });
      } catch {
        events.push({ t: s - t0, ms: performance.now() - s, member: -1 });
      }
    }
    await adding;
    if (addError !== undefined) throw addError;
  } finally {
    slow?.stop();
    await client.close();
  }
  const packets = cap ? await cap.stop() : undefined;
  const after = await members.counters();
  const list = members.list();
  const handled = list.map((_, i) => {
    if (i === killVictim) return killMid[i]! - before[i]!;
    return after[i]! - (before[i] ?? 0);
  });
  const total = handled.reduce((x, y) => x + y, 0);
  const ok = events.filter((e) => e.member !== -1);
  const lat = (es: PutEvent[]) => es.map((e) => e.ms).sort((a, b) => a - b);
  const seconds = Math.ceil((events.at(-1)?.t ?? 0) / 1000 + 1e-9) || 1;
  const timeline = Array.from({ length: seconds }, () => list.map(() => 0));
  const timelineFailures = Array.from({ length: seconds }, () => 0);
  for (const e of events) {
    const sec = Math.min(seconds - 1, Math.floor(e.t / 1000));
    if (e.member >= 0) timeline[sec]![e.member]!++;
    else if (e.member === -1) timelineFailures[sec]!++;
  }
  const result: LbPolicyResult = {
    policy: mode,
    target: modeTarget(mode),
    requests: events.length,
    failures: events.length - ok.length,
    members: list.map((m, i) => {
      const mine = lat(events.filter((e) => e.member === i));
      return {
        member: m.name,
        endpoint: mode === 'dns_round_robin' ? (m.dnsAddress ?? m.endpoint) : m.endpoint,
        requests: handled[i]!,
        packets: packets ? m.addrs.reduce((x, a) => x + (packets.get(a) ?? 0), 0) : null,
        share: total > 0 ? handled[i]! / total : 0,
        latencyMsP50: quantile(mine, 0.5),
        latencyMsP99: quantile(mine, 0.99),
      };
    }),
    latencyMsP50: quantile(lat(ok), 0.5),
    latencyMsP99: quantile(lat(ok), 0.99),
    timeline,
    timelineFailures,
    ...(mode === 'dns_round_robin'
      ? {
          dnsQueries: ctx.dnsLog.slice(queriesBefore).map((q) => ({
            atMs: q.t - wall0,
            type: DNS_TYPE_NAMES[q.type] ?? String(q.type),
            answers: q.answers.length,
          })),
        }
      : {}),
  };
  if (kill && cluster) {
    const tKill = kill.atMs;
    const firstOk = events.find((e) => e.t + e.ms >= tKill && e.member >= 0);
    const sinceKill = events.filter((e) => e.t >= tKill);
    kill.failoverMs = firstOk ? firstOk.t + firstOk.ms - tKill : null;
    kill.failuresAfter = sinceKill.filter((e) => e.member === -1).length;
    const victim = cluster.members[killVictim]!;
    // Counted by the members' own counters: after the run minus at the kill (the victim: 0).
    kill.putsAfter = list.map((_, i) => (i === killVictim ? 0 : after[i]! - killMid[i]!));
    result.kill = kill;
    await cluster.restart(victim);
  }
  if (added && cluster) {
    const idx = cluster.members.indexOf(added.m);
    const healthy = added.healthyAtMs ?? Number.NaN;
    const first = events.find((e) => e.member === idx);
    result.add = {
      member: added.m.name,
      afterPuts: cut,
      addedAtMs: added.addedAtMs,
      healthyAtMs: healthy,
      firstPutMs: first ? first.t + first.ms - healthy : null,
      puts: handled[idx]!,
    };
    await cluster.remove(added.m);
    setDnsRecords(ctx.dns, cluster);
  }
  if (slow && slowMember) {
    const i = cluster!.members.indexOf(slowMember);
    result.slow = {
      member: slowMember.name,
      stoppedMs: slowStoppedMs,
      periodMs: SLOW_PERIOD_MS,
      bursts: slow.bursts(),
      busiest: handled[i] === Math.max(...handled),
    };
  }
  return result;
}
