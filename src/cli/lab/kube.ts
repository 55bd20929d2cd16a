/**
 * `tsetcd lab kube`: seed 001's Kubernetes topology rehearsed on one Linux machine, then its demo
 * replayed under several Service/balancer choices, counting which pod answered.
 *
 * Deployments hellogrpc, hellohttp, helloserve (replicas each, pod names as Kubernetes makes them)
 * run kubetester's services in their own namespaces (net.ts). Services:
 *   grpc-svc            headless: DNS answers the hellogrpc pod IPs
 *   grpc-clusterip-svc  ClusterIP 10.96.0.40:8000 -> hellogrpc:8000 (what the seed did not use)
 *   http-svc            ClusterIP 10.96.0.20:80 -> hellohttp:8100
 *   serve-svc           "LoadBalancer" 10.96.0.30:80 -> helloserve:8200 (the client's entry)
 * For each scenario the gateways are restarted with that scenario's dial settings, and the client
 * sends N requests through serve-svc; every answer names the gateway and the backend pod.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { QueryLog } from './dns.js';
import { runScale, type ScaleResult } from './kube-scale.js';
import {
  cleanLeftovers,
  type DnatMode,
  LabError,
  LabNet,
  missingPrerequisites,
  NODE_IP,
  type PodNet,
} from './net.js';
import { PodProcess } from './proc.js';

/** Service VIPs (the kube-proxy half of the lab). */
export const VIP = { httpSvc: '10.96.0.20', serveSvc: '10.96.0.30', grpcClusterIpSvc: '10.96.0.40' } as const;

/** The demo's scenarios, in the order they run and print. */
export const SCENARIOS = [
  {
    id: 'grpc-headless-round-robin',
    title: 'gRPC: headless grpc-svc + round_robin',
    path: '/hellogrpc',
    gateway: ['--grpc-target=dns:///grpc-svc:8000', '--grpc-policy=round_robin'],
    expect: 'spread',
  },
  {
    id: 'grpc-clusterip',
    title: 'gRPC: ClusterIP grpc-clusterip-svc + round_robin',
    path: '/hellogrpc',
    gateway: ['--grpc-target=dns:///grpc-clusterip-svc:8000', '--grpc-policy=round_robin'],
    expect: 'one-per-gateway',
  },
  {
    id: 'grpc-headless-pick-first',
    title: 'gRPC: headless grpc-svc + pick_first',
    path: '/hellogrpc',
    gateway: ['--grpc-target=dns:///grpc-svc:8000', '--grpc-policy=pick_first'],
    expect: 'one-per-gateway',
  },
  {
    id: 'http-clusterip-keepalive',
    title: 'HTTP/1.1: ClusterIP http-svc, keep-alive (Go default)',
    path: '/hellohttp',
    gateway: ['--http-keepalive=true'],
    expect: 'one-per-gateway',
  },
  {
    id: 'http-clusterip-per-request',
    title: 'HTTP/1.1: ClusterIP http-svc, new connection per request',
    path: '/hellohttp',
    gateway: ['--http-keepalive=false'],
    expect: 'spread',
  },
] as const;

export type ScenarioId = (typeof SCENARIOS)[number]['id'];

/** Options of one lab run. */
export interface KubeLabOptions {
  /** Requests per scenario (the seed's demo: about 10 curls). */
  requests: number;
  /** Replicas per Deployment (the seed: 3). */
  replicas: number;
  /** Which scenarios to run (default: all). */
  scenarios?: readonly ScenarioId[];
  /** How Service VIPs pick a pod per connection (default random, as kube-proxy). */
  dnat?: DnatMode;
  /** Unique id of this run (names of namespaces); default: random. */
  runId?: string;
  /** The repo root, where dist/kubetester and dist/src/cli/lab are. */
  root: string;
  /** Also run the scale-up experiment (kube-scale.ts). */
  scale?: boolean;
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

/** One scenario's outcome. */
export interface ScenarioResult {
  id: ScenarioId;
  title: string;
  path: string;
  expect: 'spread' | 'one-per-gateway';
  requests: number;
  failures: number;
  /** Answers per backend pod (every backend pod listed, 0 included). */
  backends: { pod: string; answers: number }[];
  /** Answers per gateway, split by backend pod. */
  gateways: { pod: string; answers: number; backends: Record<string, number> }[];
  /** Backend pods that answered at least once. */
  podsReached: number;
  /** The most backend pods any one gateway reached. */
  podsPerGatewayMax: number;
  /** DNS queries for grpc-svc / grpc-clusterip-svc / http-svc the gateways made in this scenario. */
  dnsQueries: number;
  /** Whether the outcome is what the scenario shows (spread over all pods, or one pod per gateway). */
  asExpected: boolean;
}

/** The whole run's outcome (`-w json` prints it). */
export interface KubeLabResult {
  runId: string;
  replicas: number;
  requests: number;
  pods: Record<string, { ip: string; netns: string }>;
  scenarios: ScenarioResult[];
  /** The scale-up experiment (`--scale`), when run. */
  scale?: ScaleResult[];
  /** Namespaces this run created (all removed by the time it returns). */
  namespaces: string[];
}

const POD_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'; // Kubernetes' safe alphabet for generated names

function randomName(n: number): string {
  return [...randomBytes(n)].map((b) => POD_ALPHABET[b % POD_ALPHABET.length]).join('');
}

/**
 * Pod names as a Deployment's ReplicaSet makes them: `<deployment>-<10>-<5>`; `prefix` continues
 * an existing ReplicaSet (`hellogrpc-6dd9d78b49`).
 */
export function podNames(deployment: string, count: number, prefix?: string): string[] {
  const rs = prefix ?? `${deployment}-${randomName(10)}`;
  const names = new Set<string>();
  while (names.size < count) names.add(`${rs}-${randomName(5)}`);
  return [...names];
}

/**
 * Whether an outcome is what its scenario demonstrates: `spread` — every backend pod answered and
 * a gateway reached more than one; `one-per-gateway` — no gateway reached more than one. Any
 * failed request makes it unexpected.
 */
function verdict(r: Omit<ScenarioResult, 'asExpected'>, replicas: number): boolean {
  if (r.failures > 0) return false;
  if (r.expect === 'spread') return r.podsReached === replicas && r.podsPerGatewayMax > 1;
  return r.podsPerGatewayMax === 1;
}

/** The compiled scripts the lab starts. */
export type Scripts = Record<'hellogrpc' | 'hellohttp' | 'helloserve' | 'dns' | 'client', string>;

/** Finds the compiled scripts the lab starts; throws LabError when the build is missing. */
function scripts(root: string): Scripts {
  const s = {
    hellogrpc: join(root, 'dist/kubetester/hellogrpc/main.js'),
    hellohttp: join(root, 'dist/kubetester/hellohttp/main.js'),
    helloserve: join(root, 'dist/kubetester/helloserve/main.js'),
    dns: join(root, 'dist/src/cli/lab/dns-main.js'),
    client: join(root, 'dist/src/cli/lab/client-main.js'),
  };
  for (const p of Object.values(s))
    if (!existsSync(p)) throw new LabError(`${p} is missing: run npm run build`);
  return s;
}

/** The Deployments of seed 001. */
export const DEPLOYMENTS = ['hellogrpc', 'hellohttp', 'helloserve'] as const;
export type Deployment = (typeof DEPLOYMENTS)[number];

/** One answer the client got: when, and from which gateway and backend pod. */
export interface Answer {
  /** ms since the epoch. */
  t: number;
  ok: boolean;
  gateway?: string;
  backend?: string;
}

/**
 * The rehearsed cluster: the network, its DNS, the pods and what runs in them, and the Services'
 * endpoints (kept in step in DNS and nftables). Every process it starts is registered for teardown.
 */
export class Cluster {
  /** Pod name -> its network, by Deployment. */
  readonly pods = new Map<string, PodNet & { deployment: Deployment }>();
  /** Running pods per Deployment, in start order (the Services' endpoints). */
  readonly endpoints: Record<Deployment, string[]> = { hellogrpc: [], hellohttp: [], helloserve: [] };
  /** Every DNS query so far. */
  readonly queries: QueryLog[] = [];
  private readonly running = new Map<string, { proc: PodProcess; args: string }>();
  private client: PodNet | undefined;
  private dns: PodProcess | undefined;

  constructor(
    readonly net: LabNet,
    readonly bin: Scripts,
    readonly opts: KubeLabOptions,
    private readonly procs: PodProcess[],
  ) {}

  /** Starts the DNS server in the node namespace and creates the client's namespace. */
  async start(): Promise<void> {
    const dns = PodProcess.start(this.net.nodeNs, 'kube-dns', this.bin.dns, [NODE_IP, '53'], true);
    this.procs.push(dns);
    this.dns = dns;
    dns.onLine((line) => {
      if (line.startsWith('{"t"')) this.queries.push(JSON.parse(line) as QueryLog);
    });
    await dns.waitFor(/\{"listening":\d+\}/);
    this.client = this.net.addPod('client');
  }

  /** Creates `count` more pods of a Deployment (namespaces only; nothing runs in them yet). */
  addPods(d: Deployment, count: number): string[] {
    const names = podNames(d, count, this.namePrefix(d));
    for (const pod of names) this.pods.set(pod, { ...this.net.addPod(pod), deployment: d });
    return names;
  }

  private namePrefix(d: Deployment): string | undefined {
    const first = [...this.pods.keys()].find((p) => this.pods.get(p)!.deployment === d);
    return first?.slice(0, first.lastIndexOf('-'));
  }

  /** Starts a pod's service with `args`, waits until it listens. */
  async run(pod: string, args: readonly string[] = []): Promise<void> {
    const p = this.pods.get(pod);
    if (!p) throw new LabError(`no pod ${pod}`);
    await this.running.get(pod)?.proc.stop();
    const proc = PodProcess.start(p.netns, pod, this.bin[p.deployment], args);
    this.procs.push(proc);
    this.running.set(pod, { proc, args: args.join(' ') });
    await proc.waitFor(/listening on/);
  }

  /** Restarts a pod's service only when it is not already running with exactly `args`. */
  async ensure(pod: string, args: readonly string[] = []): Promise<void> {
    if (this.running.get(pod)?.args !== args.join(' ')) await this.run(pod, args);
  }

  /** Stops a pod's service (SIGTERM; it drains). */
  async halt(pod: string): Promise<void> {
    await this.running.get(pod)?.proc.stop();
    this.running.delete(pod);
  }

  /** Sets a Deployment's endpoints and reprograms DNS (headless grpc-svc) and nftables (VIPs). */
  setEndpoints(d: Deployment, pods: readonly string[]): void {
    this.endpoints[d] = [...pods];
    const ips = (x: Deployment) => this.endpoints[x].map((p) => this.pods.get(p)!.ip);
    this.dns!.send(
      JSON.stringify({
        'grpc-svc': ips('hellogrpc'),
        'grpc-clusterip-svc': [VIP.grpcClusterIpSvc],
        'http-svc': [VIP.httpSvc],
        'serve-svc': [VIP.serveSvc],
      }),
    );
    this.net.setServices(
      [
        { vip: VIP.grpcClusterIpSvc, port: 8000, targetPort: 8000, endpoints: ips('hellogrpc') },
        { vip: VIP.httpSvc, port: 80, targetPort: 8100, endpoints: ips('hellohttp') },
        { vip: VIP.serveSvc, port: 80, targetPort: 8200, endpoints: ips('helloserve') },
      ],
      this.opts.dnat,
    );
  }

  /** (Re)starts every gateway with `args`, in parallel. */
  async runGateways(args: readonly string[]): Promise<void> {
    await Promise.all(this.endpoints.helloserve.map((g) => this.run(g, args)));
  }

  /**
   * Starts the client (`count` requests to serve-svc's `path`, `intervalMs` apart); resolves with
   * a handle whose `answers()` grows as they come and `done` settles when it exits.
   */
  startClient(
    path: string,
    count: number,
    intervalMs = 0,
  ): { answers: () => Answer[]; done: Promise<Answer[]> } {
    const c = PodProcess.start(this.client!.netns, 'client', this.bin.client, [
      `http://serve-svc${path}`,
      String(count),
      String(intervalMs),
    ]);
    this.procs.push(c);
    const answers: Answer[] = [];
    c.onLine((line) => {
      const l = JSON.parse(line) as { t: number; status?: number; body?: string };
      if (l.status !== 200 || !l.body) {
        answers.push({ t: l.t, ok: false });
        return;
      }
      const body = JSON.parse(l.body) as { hostname: string; response: { hostname: string } };
      answers.push({ t: l.t, ok: true, gateway: body.hostname, backend: body.response.hostname });
    });
    return { answers: () => answers, done: c.wait().then(() => answers) };
  }

  /** The pod an address belongs to. */
  podOf(ip: string): string | undefined {
    for (const [pod, p] of this.pods) if (p.ip === ip) return pod;
    return undefined;
  }
}

/**
 * Runs one scenario of SCENARIOS: gateways restarted with its dial settings, N requests through
 * serve-svc, answers tallied per backend pod and per gateway, gateways stopped.
 */
async function runScenario(cl: Cluster, sc: (typeof SCENARIOS)[number]): Promise<ScenarioResult> {
  const { opts } = cl;
  opts.log(`scenario ${sc.id}: starting ${opts.replicas} gateways (${sc.gateway.join(' ')})`);
  await cl.runGateways(sc.gateway);
  const q0 = cl.queries.length;
  const answers = await cl.startClient(sc.path, opts.requests).done;
  await Promise.all(cl.endpoints.helloserve.map((g) => cl.halt(g)));
  const dnsQueries = cl.queries
    .slice(q0)
    .filter(
      (q) => q.type === 1 && cl.podOf(q.from)?.startsWith('helloserve') && /^(grpc|http)-/.test(q.name),
    ).length;
  const backendPods = sc.path === '/hellogrpc' ? cl.endpoints.hellogrpc : cl.endpoints.hellohttp;
  const perBackend = new Map(backendPods.map((p) => [p, 0]));
  const perGateway = new Map(
    cl.endpoints.helloserve.map((p) => [p, { answers: 0, backends: {} as Record<string, number> }]),
  );
  let failures = opts.requests - answers.length;
  for (const a of answers) {
    if (!a.ok) {
      failures++;
      continue;
    }
    perBackend.set(a.backend!, (perBackend.get(a.backend!) ?? 0) + 1);
    const g = perGateway.get(a.gateway!);
    if (g) {
      g.answers++;
      g.backends[a.backend!] = (g.backends[a.backend!] ?? 0) + 1;
    }
  }
  const partial = {
    id: sc.id,
    title: sc.title,
    path: sc.path,
    expect: sc.expect,
    requests: opts.requests,
    failures,
    backends: [...perBackend].map(([pod, n]) => ({ pod, answers: n })),
    gateways: [...perGateway].map(([pod, g]) => ({ pod, ...g })),
    podsReached: [...perBackend.values()].filter((n) => n > 0).length,
    podsPerGatewayMax: Math.max(0, ...[...perGateway.values()].map((g) => Object.keys(g.backends).length)),
    dnsQueries,
  };
  const r: ScenarioResult = { ...partial, asExpected: verdict(partial, opts.replicas) };
  opts.log(
    `scenario ${sc.id}: ${r.podsReached} pods answered, at most ${r.podsPerGatewayMax} per gateway, ${failures} failures`,
  );
  return r;
}

/**
 * Runs the lab: cleans leftovers of crashed runs, builds the network, starts the pods, runs each
 * scenario (and the scale-up experiment when asked), and removes everything it created — also when
 * a step fails and on SIGINT/SIGTERM. Throws LabError when prerequisites are missing or a step fails.
 */
export async function runKubeLab(opts: KubeLabOptions): Promise<KubeLabResult> {
  const missing = missingPrerequisites();
  if (missing.length > 0) throw new LabError(`tsetcd lab kube needs ${missing.join(', ')}`);
  const bin = scripts(opts.root);
  const leftovers = cleanLeftovers();
  if (leftovers.length > 0) opts.log(`removed ${leftovers.length} namespaces left by an earlier run`);
  const runId = opts.runId ?? randomBytes(3).toString('hex');
  const procs: PodProcess[] = [];
  let net: LabNet | undefined;
  const teardown = () => {
    for (const p of procs) p.kill();
    net?.destroy();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    opts.log(`${sig}: removing the lab's namespaces and processes`);
    teardown();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', teardown);
  try {
    net = LabNet.create(runId);
    opts.log(`run ${runId}: node namespace ${net.nodeNs}, bridge br0 ${NODE_IP}/24`);
    const cl = new Cluster(net, bin, opts, procs);
    await cl.start();
    for (const d of DEPLOYMENTS) cl.addPods(d, opts.replicas);
    for (const d of DEPLOYMENTS)
      cl.setEndpoints(
        d,
        [...cl.pods].filter(([, p]) => p.deployment === d).map(([pod]) => pod),
      );
    opts.log(
      `pods: ${cl.pods.size} in namespaces tsl${runId}-*; services: grpc-svc (headless), grpc-clusterip-svc, http-svc, serve-svc`,
    );
    await Promise.all([...cl.endpoints.hellogrpc, ...cl.endpoints.hellohttp].map((p) => cl.run(p)));
    const results: ScenarioResult[] = [];
    for (const sc of SCENARIOS.filter((s) => !opts.scenarios || opts.scenarios.includes(s.id)))
      results.push(await runScenario(cl, sc));
    const scale = opts.scale ? await runScale(cl) : undefined;
    const namespaces = [...net.namespaces()];
    return {
      runId,
      replicas: opts.replicas,
      requests: opts.requests,
      pods: Object.fromEntries([...cl.pods].map(([pod, p]) => [pod, { ip: p.ip, netns: p.netns }])),
      scenarios: results,
      ...(scale ? { scale } : {}),
      namespaces,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    net?.destroy();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', teardown);
  }
}
