/**
 * `tsetcd lab lb`: seed 000 as one command. A three-member cluster on one machine (started here on
 * free ports, the seed's 12379/22379/32379 with --seed-ports, or given with --endpoints), a workload
 * of Puts through one gRPC channel per load-balancing policy, and two independent counts of where
 * the requests went: each member's own `grpc_server_handled_total` for KV.Put (its /metrics, read
 * before and after), and — as root with tcpdump installed — TCP segments with PSH set sent to each
 * client port, the seed's tcpdump filter (with its `or`/`and` precedence fixed).
 *
 * The channel is behind `LbClientFactory` so the project's own client (tsetcd/client) can replace
 * the raw grpc-js channel used here.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import {
  ClusterClient,
  KVClient,
  MemberListRequest,
  type MemberListResponse,
  PutRequest,
} from '../../proto/etcdserverpb/rpc.js';
import { LabError } from './net.js';

/** The policies compared, in order. */
export const LB_POLICIES = ['round_robin', 'pick_first'] as const;
export type LbPolicy = (typeof LB_POLICIES)[number];

/** A client that sends Puts through one channel over every endpoint with a policy. */
export interface LbClient {
  /** Resolves with the id of the member that answered (its response header's member_id). */
  put(key: string, value: string): Promise<bigint>;
  close(): void;
}

/** Makes an LbClient for `endpoints` (host:port) and `policy`. */
export type LbClientFactory = (endpoints: readonly string[], policy: LbPolicy) => LbClient;

/** Deadline of one Put. */
export const PUT_TIMEOUT_MS = 5000;

/** The raw grpc-js channel: `ipv4:a,b,c` (static endpoints, as clientv3's resolver) and the policy. */
export const grpcJsClient: LbClientFactory = (endpoints, policy) => {
  const kv = new KVClient(`ipv4:${endpoints.join(',')}`, credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [policy]: {} }] }),
  });
  return {
    put: (key, value) =>
      new Promise((res, rej) => {
        kv.put(
          PutRequest.fromPartial({ key: Buffer.from(key), value: Buffer.from(value) }),
          new Metadata(),
          { deadline: Date.now() + PUT_TIMEOUT_MS },
          (err, resp) => (err ? rej(err) : res(resp.header?.memberId ?? 0n)),
        );
      }),
    close: () => kv.close(),
  };
};

/** Member id -> index in `endpoints`, from MemberList's client URLs (asked of the first endpoint). */
async function memberIndexes(endpoints: readonly string[]): Promise<Map<bigint, number>> {
  const cluster = new ClusterClient(endpoints[0]!, credentials.createInsecure());
  try {
    const resp = await new Promise<MemberListResponse>((res, rej) =>
      cluster.memberList(
        MemberListRequest.fromPartial({}),
        new Metadata(),
        { deadline: Date.now() + PUT_TIMEOUT_MS },
        (err, r) => (err ? rej(err) : res(r)),
      ),
    );
    const out = new Map<bigint, number>();
    for (const m of resp.members) {
      const urls = m.clientURLs.map((u) => u.replace(/^https?:\/\//, ''));
      const i = endpoints.findIndex((ep) => urls.includes(ep));
      if (i >= 0) out.set(m.ID, i);
    }
    return out;
  } finally {
    cluster.close();
  }
}

/** One member's numbers under one policy. */
export interface LbMemberCount {
  member: string;
  endpoint: string;
  /** KV.Put RPCs it handled (its own counter's increase). */
  requests: number;
  /** PSH segments sent to its client port (null: not captured). */
  packets: number | null;
  /** requests / all requests of this policy. */
  share: number;
}

/** What happened when the busiest member was killed mid-run (`--kill`). */
export interface LbKill {
  member: string;
  /** Whether it was the Raft leader (its etcd_server_is_leader was 1). */
  wasLeader: boolean;
  /** Puts sent before the kill. */
  afterPuts: number;
  /** ms from the kill to the next successful Put; null: none succeeded. */
  failoverMs: number | null;
  /** Puts that failed after the kill. */
  failuresAfter: number;
  /** Puts each member handled after the kill (the killed one: 0). */
  putsAfter: number[];
}

/** One policy's run. */
export interface LbPolicyResult {
  policy: LbPolicy;
  requests: number;
  failures: number;
  members: LbMemberCount[];
  kill?: LbKill;
  /**
   * Successful Puts per second since the policy's first Put, per member (by the answering member's
   * id in each response header): timeline[s][i] for member i.
   */
  timeline: number[][];
}

/** The whole run (`-w json`). */
export interface LbResult {
  binary: string;
  endpoints: string[];
  /** Why packets were not counted, when they were not. */
  packetsNote?: string;
  policies: LbPolicyResult[];
}

/** Options of `runLbLab`. */
export interface LbOptions {
  requests: number;
  /** host:port of each member's client URL; empty: start a cluster here. */
  endpoints: string[];
  /** When starting a cluster: the seed's ports instead of free ones. */
  seedPorts: boolean;
  /** When starting a cluster: tsetcd (default) or etcd from PATH (a reference run). */
  binary: 'tsetcd' | 'etcd';
  root: string;
  client?: LbClientFactory;
  /** Kill (SIGKILL) the busiest member after a third of each policy's Puts, restart it after. */
  kill?: boolean;
  log: (line: string) => void;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

async function get(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return r.text();
}

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

/** A cluster this lab started: its endpoints, its processes (index = member), and a restart. */
interface StartedCluster {
  endpoints: string[];
  procs: ChildProcess[];
  /** Starts member `i` again on its data dir and ports; resolves when it answers /health. */
  restart(i: number): Promise<void>;
}

async function waitHealthy(procs: readonly ChildProcess[], endpoints: readonly string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const ep of endpoints) {
    for (;;) {
      const exited = procs.find((p) => p.exitCode !== null);
      if (exited) throw new LabError(`a member exited (${exited.exitCode}) while starting`);
      try {
        if ((await get(`http://${ep}/health`)).includes('"true"')) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new LabError(`member ${ep} not healthy within 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Starts three members with seed 000's flags; resolves when all answer /health. */
async function startCluster(opts: LbOptions, dir: string, procs: ChildProcess[]): Promise<StartedCluster> {
  const ports = opts.seedPorts
    ? [
        [12379, 12380],
        [22379, 22380],
        [32379, 32380],
      ]
    : await Promise.all([0, 1, 2].map(async () => [await freePort(), await freePort()]));
  const cluster = ports.map(([, peer], i) => `node${i + 1}=http://127.0.0.1:${peer}`).join(',');
  const spawnMember = (i: number) => {
    const [client, peer] = ports[i]!;
    const flags = [
      `--data-dir=${join(dir, `data${i + 1}.etcd`)}`,
      `--name=node${i + 1}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--initial-cluster=${cluster}`,
      '--initial-cluster-state=new',
      '--initial-cluster-token=token-01',
    ];
    const [cmd, pre] =
      opts.binary === 'etcd' ? ['etcd', []] : [process.execPath, [join(opts.root, 'bin', 'tsetcd.js')]];
    procs[i] = spawn(cmd, [...pre, ...flags], { stdio: 'ignore' });
  };
  for (const i of [0, 1, 2]) spawnMember(i);
  const endpoints = ports.map(([client]) => `127.0.0.1:${client}`);
  await waitHealthy(procs, endpoints);
  return {
    endpoints,
    procs,
    async restart(i) {
      spawnMember(i);
      await waitHealthy(procs, endpoints);
    },
  };
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

/** Starts tcpdump on lo for PSH segments to the given ports; stop() resolves with counts per port. */
async function capture(ports: readonly number[]): Promise<{ stop: () => Promise<Map<number, number>> }> {
  const filter = `(tcp[tcpflags] & tcp-push != 0) and dst host 127.0.0.1 and (${ports.map((p) => `dst port ${p}`).join(' or ')})`;
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
    if (p.exitCode !== null || Date.now() > deadline)
      throw new LabError(`tcpdump did not start: ${err.trim()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    stop: async () => {
      p.kill('SIGINT');
      await new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)));
      const counts = new Map(ports.map((x) => [x, 0]));
      for (const line of out.split('\n')) {
        const m = / > 127\.0\.0\.1\.(\d+): /.exec(line);
        if (m) counts.set(Number(m[1]), (counts.get(Number(m[1])) ?? 0) + 1);
      }
      return counts;
    },
  };
}

/** Runs the lab; stops what it started (members, tcpdump) and removes its data dirs. */
export async function runLbLab(opts: LbOptions): Promise<LbResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-lab-lb-'));
  const procs: ChildProcess[] = [];
  let cluster: StartedCluster | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let endpoints = opts.endpoints;
    if (endpoints.length === 0) {
      opts.log(`starting 3 ${opts.binary} members (${opts.seedPorts ? "seed 000's ports" : 'free ports'})`);
      cluster = await startCluster(opts, dir, procs);
      endpoints = cluster.endpoints;
    } else if (opts.kill) throw new LabError('--kill needs a cluster the lab starts (no --endpoints)');
    const packetsNote = packetCaptureUnavailable();
    if (packetsNote) opts.log(packetsNote);
    const factory = opts.client ?? grpcJsClient;
    const policies: LbPolicyResult[] = [];
    const metricsOf = (skip = -1) =>
      Promise.all(
        endpoints.map(async (ep, i) => (i === skip ? 0 : putsHandled(await get(`http://${ep}/metrics`)))),
      );
    const ports = endpoints.map((e) => Number(e.split(':')[1]));
    const indexOf = await memberIndexes(endpoints);
    for (const policy of LB_POLICIES) {
      const before = await metricsOf();
      const client = factory(endpoints, policy);
      const packets = new Map(ports.map((p) => [p, 0]));
      let failures = 0;
      const t0 = Date.now();
      const timeline: number[][] = [];
      /** Sends Puts [from, to) inside one packet capture; returns the time of the first success. */
      const phase = async (from: number, to: number): Promise<number | undefined> => {
        const cap = packetsNote ? undefined : await capture(ports);
        let firstOk: number | undefined;
        for (let i = from; i < to; i++) {
          try {
            const id = await client.put(`lab/${policy}/${i}`, String(i));
            const now = Date.now();
            firstOk ??= now;
            const sec = Math.floor((now - t0) / 1000);
            while (timeline.length <= sec) timeline.push(endpoints.map(() => 0));
            const m = indexOf.get(id);
            if (m !== undefined) timeline[sec]![m]!++;
          } catch {
            failures++;
          }
        }
        if (cap) for (const [p, n] of await cap.stop()) packets.set(p, packets.get(p)! + n);
        return firstOk;
      };
      let kill: LbKill | undefined;
      let after: number[];
      if (opts.kill && cluster) {
        const cut = Math.floor(opts.requests / 3);
        await phase(0, cut);
        const mid = await metricsOf(); // between captures: the scrape is not counted as packets
        const sofar = mid.map((m, i) => m - before[i]!);
        const victim = sofar.indexOf(Math.max(...sofar));
        const wasLeader = isLeader(await get(`http://${endpoints[victim]}/metrics`));
        cluster.procs[victim]!.kill('SIGKILL');
        await new Promise((r) => cluster!.procs[victim]!.once('exit', r));
        const tKill = Date.now();
        opts.log(`${policy}: killed node${victim + 1} after ${cut} Puts`);
        const failuresBefore = failures;
        const firstOk = await phase(cut, opts.requests);
        after = await metricsOf(victim);
        after[victim] = mid[victim]!;
        kill = {
          member: `node${victim + 1}`,
          wasLeader,
          afterPuts: cut,
          failoverMs: firstOk === undefined ? null : firstOk - tKill,
          failuresAfter: failures - failuresBefore,
          putsAfter: after.map((a, i) => (i === victim ? 0 : a - mid[i]!)),
        };
        client.close();
        await cluster.restart(victim);
      } else {
        await phase(0, opts.requests);
        client.close();
        after = await metricsOf();
      }
      const handled = after.map((a, i) => a - before[i]!);
      const total = handled.reduce((x, y) => x + y, 0);
      policies.push({
        policy,
        requests: opts.requests,
        failures,
        members: endpoints.map((ep, i) => ({
          member: `node${i + 1}`,
          endpoint: ep,
          requests: handled[i]!,
          packets: packetsNote ? null : (packets.get(ports[i]!) ?? 0),
          share: total > 0 ? handled[i]! / total : 0,
        })),
        ...(kill ? { kill } : {}),
        timeline,
      });
      opts.log(`${policy}: ${handled.join('/')} Puts per member, ${failures} failed`);
    }
    return {
      binary: opts.endpoints.length > 0 ? 'external' : opts.binary,
      endpoints,
      ...(packetsNote ? { packetsNote } : {}),
      policies,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(
      procs.map(
        (p) =>
          new Promise((r) => {
            if (p.exitCode !== null || p.signalCode !== null) return r(null);
            const t = setTimeout(() => p.kill('SIGKILL'), 5000);
            p.once('exit', () => {
              clearTimeout(t);
              r(null);
            });
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}
