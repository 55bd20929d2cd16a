/**
 * The scale-up experiment of `tsetcd lab kube --scale`: while the client sends a steady stream of
 * requests, a Deployment goes from `replicas` to `replicas + SCALE_ADD` pods, and we record when each
 * gateway first gets an answer from a new pod.
 *
 *   gRPC, headless + round_robin             grpc-js resolves grpc-svc again only when a connection
 *                                            drops, so the gateways never see the new pods
 *   ... + hellogrpc max connection age       the servers' GOAWAY drops connections every few
 *                                            seconds; the gateways re-resolve and pick them up
 *   HTTP/1.1, a connection per request       kube-proxy's rules change; the next connection may
 *                                            land on a new pod at once
 */
import type { Cluster, Deployment } from './kube.js';

/** Pods added by the scale-up (the 3 -> 5). */
export const SCALE_ADD = 2;
/** Requests per variant, and the pause between two (the timeline's resolution). */
export const SCALE_REQUESTS = 80;
export const SCALE_INTERVAL_MS = 50;
/** The scale-up happens after this many answers. */
export const SCALE_AFTER_ANSWERS = 20;
/** hellogrpc's max connection age in the variant that sets one. */
export const SCALE_MAX_AGE_MS = 1000;
/** Least time between two DNS resolutions in the gateways (grpc-js' default is 30 s). */
export const SCALE_DNS_MIN_INTERVAL_MS = 500;

const GRPC_GATEWAY = [
  '--grpc-target=dns:///grpc-svc:8000',
  '--grpc-policy=round_robin',
  `--grpc-dns-min-interval-ms=${SCALE_DNS_MIN_INTERVAL_MS}`,
];

/** The variants, in the order they run. */
export const SCALE_VARIANTS = [
  {
    id: 'scale-grpc-headless',
    title: 'gRPC: headless + round_robin, hellogrpc scaled up',
    deployment: 'hellogrpc',
    path: '/hellogrpc',
    backendArgs: [],
    gateway: GRPC_GATEWAY,
    expect: 'never',
  },
  {
    id: 'scale-grpc-headless-max-age',
    title: `gRPC: headless + round_robin, server max connection age ${SCALE_MAX_AGE_MS} ms, hellogrpc scaled up`,
    deployment: 'hellogrpc',
    path: '/hellogrpc',
    backendArgs: [`--max-connection-age-ms=${SCALE_MAX_AGE_MS}`],
    gateway: GRPC_GATEWAY,
    expect: 'notices',
  },
  {
    id: 'scale-http-per-request',
    title: 'HTTP/1.1: ClusterIP, connection per request, hellohttp scaled up',
    deployment: 'hellohttp',
    path: '/hellohttp',
    backendArgs: [],
    gateway: ['--http-keepalive=false'],
    expect: 'notices',
  },
] as const;

/** One variant's outcome. */
export interface ScaleResult {
  id: string;
  title: string;
  /** `never`: no gateway should reach a new pod; `notices`: every gateway should. */
  expect: 'never' | 'notices';
  from: number;
  to: number;
  requests: number;
  failures: number;
  /** Per gateway: ms from the scale-up to its first answer from a new pod; null: never in this run. */
  noticedAfterMs: Record<string, number | null>;
  /** Share of answers from new pods per second since the scale-up (index 0: the first second). */
  newShareBySecond: number[];
  /** Answers after the scale-up, and how many came from new pods. */
  answersAfter: number;
  answersFromNew: number;
  asExpected: boolean;
}

/**
 * Runs every variant on a running cluster. Each Deployment is back to its base pods afterwards;
 * their services may still run with the last variant's flags (the lab ends after this).
 */
export async function runScale(cl: Cluster): Promise<ScaleResult[]> {
  const out: ScaleResult[] = [];
  const extra: Partial<Record<Deployment, string[]>> = {};
  for (const v of SCALE_VARIANTS) {
    const d: Deployment = v.deployment;
    const base = [...cl.endpoints[d]];
    cl.opts.log(`scale ${v.id}: ${base.length} -> ${base.length + SCALE_ADD} ${d} pods mid-run`);
    if (v.backendArgs.length > 0 || d === 'hellogrpc')
      await Promise.all(base.map((p) => cl.run(p, v.backendArgs)));
    extra[d] ??= cl.addPods(d, SCALE_ADD);
    const added = extra[d]!;
    await cl.runGateways(v.gateway);
    const client = cl.startClient(v.path, SCALE_REQUESTS, SCALE_INTERVAL_MS);
    // Wait for the first answers (the client paces itself), then scale up.
    while (client.answers().length < SCALE_AFTER_ANSWERS) {
      const r = await Promise.race([
        client.done.then(() => 'done'),
        new Promise((res) => setTimeout(res, 20, 'tick')),
      ]);
      if (r === 'done') break;
    }
    await Promise.all(added.map((p) => cl.run(p, v.backendArgs)));
    const tScale = Date.now();
    cl.setEndpoints(d, [...base, ...added]);
    const answers = await client.done;
    await Promise.all(cl.endpoints.helloserve.map((g) => cl.halt(g)));
    await Promise.all(added.map((p) => cl.halt(p)));
    cl.setEndpoints(d, base);

    const isNew = new Set(added);
    const after = answers.filter((a) => a.ok && a.t >= tScale);
    const noticedAfterMs: Record<string, number | null> = {};
    for (const g of cl.endpoints.helloserve) {
      const first = after.find((a) => a.gateway === g && isNew.has(a.backend!));
      noticedAfterMs[g] = first ? first.t - tScale : null;
    }
    const seconds = after.length > 0 ? Math.floor((after.at(-1)!.t - tScale) / 1000) + 1 : 0;
    const newShareBySecond = Array.from({ length: seconds }, (_, s) => {
      const inSec = after.filter((a) => Math.floor((a.t - tScale) / 1000) === s);
      return inSec.length === 0 ? 0 : inSec.filter((a) => isNew.has(a.backend!)).length / inSec.length;
    });
    const failures = SCALE_REQUESTS - answers.filter((a) => a.ok).length;
    const noticed = Object.values(noticedAfterMs);
    const r: ScaleResult = {
      id: v.id,
      title: v.title,
      expect: v.expect,
      from: base.length,
      to: base.length + SCALE_ADD,
      requests: SCALE_REQUESTS,
      failures,
      noticedAfterMs,
      newShareBySecond,
      answersAfter: after.length,
      answersFromNew: after.filter((a) => isNew.has(a.backend!)).length,
      asExpected:
        failures === 0 &&
        (v.expect === 'never' ? noticed.every((n) => n === null) : noticed.every((n) => n !== null)),
    };
    cl.opts.log(
      `scale ${v.id}: ${r.answersFromNew} of ${r.answersAfter} answers after the scale-up came from new pods`,
    );
    out.push(r);
  }
  return out;
}
