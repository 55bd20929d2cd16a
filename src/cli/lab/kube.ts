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
  /** Namespaces this run created (all removed by the time it returns). */
  namespaces: string[];
}

const POD_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'; // Kubernetes' safe alphabet for generated names

function randomName(n: number): string {
  return [...randomBytes(n)].map((b) => POD_ALPHABET[b % POD_ALPHABET.length]).join('');
}

/** Pod names as a Deployment's ReplicaSet makes them: `<deployment>-<10>-<5>`. */
export function podNames(deployment: string, count: number): string[] {
  const rs = randomName(10);
  const names = new Set<string>();
  while (names.size < count) names.add(`${deployment}-${rs}-${randomName(5)}`);
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

/** Finds the compiled scripts the lab starts; throws LabError when the build is missing. */
function scripts(root: string): Record<'hellogrpc' | 'hellohttp' | 'helloserve' | 'dns' | 'client', string> {
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

/**
 * Runs the lab: cleans leftovers of crashed runs, builds the network, starts the pods, runs each
 * scenario, and removes everything it created — also when a scenario fails or on SIGINT/SIGTERM.
 * Throws LabError when prerequisites are missing or a step fails.
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
    const namespaces: string[] = [];
    opts.log(`run ${runId}: node namespace ${net.nodeNs}, bridge br0 ${NODE_IP}/24`);

    // DNS in the node namespace.
    const queries: QueryLog[] = [];
    const dnsProc = PodProcess.start(net.nodeNs, 'kube-dns', bin.dns, [NODE_IP, '53'], true);
    procs.push(dnsProc);
    dnsProc.onLine((line) => {
      if (line.startsWith('{"t"')) queries.push(JSON.parse(line) as QueryLog);
    });
    await dnsProc.waitFor(/\{"listening":\d+\}/);

    // Pods.
    const pods: Record<string, PodNet & { deployment: string }> = {};
    const deployments = ['hellogrpc', 'hellohttp', 'helloserve'] as const;
    const names = Object.fromEntries(deployments.map((d) => [d, podNames(d, opts.replicas)])) as Record<
      (typeof deployments)[number],
      string[]
    >;
    for (const d of deployments)
      for (const pod of names[d]) pods[pod] = { ...net.addPod(pod), deployment: d };
    const client = net.addPod('client');
    const ipsOf = (d: (typeof deployments)[number]) => names[d].map((p) => pods[p]!.ip);
    dnsProc.send(
      JSON.stringify({
        'grpc-svc': ipsOf('hellogrpc'),
        'grpc-clusterip-svc': [VIP.grpcClusterIpSvc],
        'http-svc': [VIP.httpSvc],
        'serve-svc': [VIP.serveSvc],
      }),
    );
    net.setServices(
      [
        { vip: VIP.grpcClusterIpSvc, port: 8000, targetPort: 8000, endpoints: ipsOf('hellogrpc') },
        { vip: VIP.httpSvc, port: 80, targetPort: 8100, endpoints: ipsOf('hellohttp') },
        { vip: VIP.serveSvc, port: 80, targetPort: 8200, endpoints: ipsOf('helloserve') },
      ],
      opts.dnat,
    );
    opts.log(
      `pods: ${Object.keys(pods).length} in namespaces ${runId}-*; services: grpc-svc (headless), grpc-clusterip-svc, http-svc, serve-svc`,
    );

    const backends = [...names.hellogrpc, ...names.hellohttp].map((pod) => {
      const d = pods[pod]!.deployment as 'hellogrpc' | 'hellohttp';
      const p = PodProcess.start(pods[pod]!.netns, pod, bin[d], d === 'hellogrpc' ? [] : []);
      procs.push(p);
      return p;
    });
    await Promise.all(backends.map((p) => p.waitFor(/listening on/)));

    const results: ScenarioResult[] = [];
    const chosen = SCENARIOS.filter((s) => !opts.scenarios || opts.scenarios.includes(s.id));
    const ipToPod = new Map(Object.entries(pods).map(([pod, p]) => [p.ip, pod]));
    for (const sc of chosen) {
      opts.log(`scenario ${sc.id}: starting ${opts.replicas} gateways (${sc.gateway.join(' ')})`);
      const gateways = names.helloserve.map((pod) => {
        const p = PodProcess.start(pods[pod]!.netns, pod, bin.helloserve, [...sc.gateway]);
        procs.push(p);
        return p;
      });
      await Promise.all(gateways.map((g) => g.waitFor(/listening on/)));
      const q0 = queries.length;
      const c = PodProcess.start(client.netns, 'client', bin.client, [
        `http://serve-svc${sc.path}`,
        String(opts.requests),
      ]);
      procs.push(c);
      await c.wait();
      const lines = c
        .output()
        .stdout.split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { status?: number; body?: string; error?: string });
      await Promise.all(gateways.map((g) => g.stop()));
      const scQueries = queries
        .slice(q0)
        .filter(
          (q) =>
            q.type === 1 && ipToPod.get(q.from)?.startsWith('helloserve') && /^(grpc|http)-/.test(q.name),
        );
      const backendPods = sc.path === '/hellogrpc' ? names.hellogrpc : names.hellohttp;
      const perBackend = new Map(backendPods.map((p) => [p, 0]));
      const perGateway = new Map(
        names.helloserve.map((p) => [p, { answers: 0, backends: {} as Record<string, number> }]),
      );
      let failures = 0;
      for (const l of lines) {
        if (l.status !== 200 || !l.body) {
          failures++;
          continue;
        }
        const body = JSON.parse(l.body) as { hostname: string; response: { hostname: string } };
        const b = body.response.hostname;
        perBackend.set(b, (perBackend.get(b) ?? 0) + 1);
        const g = perGateway.get(body.hostname);
        if (g) {
          g.answers++;
          g.backends[b] = (g.backends[b] ?? 0) + 1;
        }
      }
      failures += opts.requests - lines.length;
      const partial = {
        id: sc.id,
        title: sc.title,
        path: sc.path,
        expect: sc.expect,
        requests: opts.requests,
        failures,
        backends: [...perBackend].map(([pod, answers]) => ({ pod, answers })),
        gateways: [...perGateway].map(([pod, g]) => ({ pod, ...g })),
        podsReached: [...perBackend.values()].filter((n) => n > 0).length,
        podsPerGatewayMax: Math.max(
          0,
          ...[...perGateway.values()].map((g) => Object.keys(g.backends).length),
        ),
        dnsQueries: scQueries.length,
      };
      const r: ScenarioResult = { ...partial, asExpected: verdict(partial, opts.replicas) };
      results.push(r);
      opts.log(
        `scenario ${sc.id}: ${r.podsReached} pods answered, at most ${r.podsPerGatewayMax} per gateway, ${failures} failures`,
      );
    }
    namespaces.push(...net.namespaces());
    return {
      runId,
      replicas: opts.replicas,
      requests: opts.requests,
      pods: Object.fromEntries(Object.entries(pods).map(([pod, p]) => [pod, { ip: p.ip, netns: p.netns }])),
      scenarios: results,
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
