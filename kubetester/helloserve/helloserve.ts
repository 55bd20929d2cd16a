/**
 * helloserve (seed 001): the API gateway on :8200. `GET /hellogrpc` calls hello.Hello/SayHello on
 * `dns:///grpc-svc:8000` with the round_robin policy (the seed's `grpc.Dial`), `GET /hellohttp`
 * calls `http://http-svc/hellohttp`; both answer
 * `{"name":"","version":"v1-helloserve","hostname":<this pod>,"response":<the backend's answer>}`.
 * The gRPC answer is marshalled as Go's generated struct would be (`omitempty`: an empty name is
 * left out), the HTTP answer is passed through as the backend sent it. A backend failure answers
 * 502 with the same envelope and an `error` field instead of `response`.
 *
 * The HTTP client keeps connections alive by default, as Go's http.DefaultTransport does — so
 * through a ClusterIP each gateway keeps talking to the pod its connection was DNAT'ed to;
 * `--http-keepalive=false` opens a connection per request, which kube-proxy spreads.
 */
import { Agent, createServer, get, type ServerResponse } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { type HelloClient, type HelloReply, helloService } from '../common/hello.js';
import {
  closeHttp,
  type FlagSpec,
  HOST_FLAG,
  HOSTNAME_FLAG,
  listen,
  maybeHealthz,
  nameParam,
  parseBool,
  parsePort,
  podHostname,
  runService,
  sendJson,
  UsageError,
} from '../common/service.js';

/** The version string of this service, as the seed's demo prints it. */
export const VERSION = 'v1-helloserve';

/** The load-balancing policies grpc-js ships that make sense here. */
export const GRPC_POLICIES = ['round_robin', 'pick_first'] as const;
export type GrpcPolicy = (typeof GRPC_POLICIES)[number];

/** Deadline of one backend call. */
export const BACKEND_TIMEOUT_MS = 3000;

const FLAGS: readonly FlagSpec[] = [
  HOST_FLAG,
  { name: 'port', env: 'PORT', default: '8200', help: 'HTTP port (0: any free port)' },
  HOSTNAME_FLAG,
  {
    name: 'grpc-target',
    env: 'GRPC_TARGET',
    default: 'dns:///grpc-svc:8000',
    help: 'gRPC target of hellogrpc',
  },
  { name: 'grpc-policy', env: 'GRPC_POLICY', default: 'round_robin', help: 'round_robin or pick_first' },
  {
    name: 'grpc-dns-min-interval-ms',
    env: 'GRPC_DNS_MIN_INTERVAL_MS',
    default: '30000',
    help: 'least time between two DNS resolutions of the gRPC target (grpc-js default 30000)',
  },
  { name: 'http-url', env: 'HTTP_URL', default: 'http://http-svc/hellohttp', help: 'URL of hellohttp' },
  { name: 'http-keepalive', env: 'HTTP_KEEPALIVE', default: 'true', help: 'reuse HTTP connections' },
];

/** Options of `startHelloServe`. */
export interface HelloServeOptions {
  host: string;
  port: number;
  hostname: string;
  /** A grpc-js target: `dns:///name:port`, `ipv4:a:p,b:p`, `host:port`. */
  grpcTarget: string;
  grpcPolicy: GrpcPolicy;
  /**
   * Least ms between two DNS resolutions of the target (grpc-js: 30000). grpc-js resolves again
   * only when a connection drops (e.g. a server's max connection age), and at most this often.
   */
  grpcDnsMinIntervalMs: number;
  /** Absolute http:// URL of hellohttp's /hellohttp. */
  httpUrl: string;
  httpKeepAlive: boolean;
}

/** A running helloserve. */
export interface HelloServe {
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish, closes the gRPC channel and HTTP agent. */
  close(): Promise<void>;
}

/** The service config that selects `policy` for every method (gRPC's service config JSON). */
export function serviceConfig(policy: GrpcPolicy): string {
  return JSON.stringify({ loadBalancingConfig: [{ [policy]: {} }] });
}

/** Starts the gateway. The gRPC channel connects lazily, on the first /hellogrpc. */
export async function startHelloServe(opts: HelloServeOptions): Promise<HelloServe> {
  const httpUrl = new URL(opts.httpUrl); // throws TypeError on a bad URL, before anything starts
  const Hello = helloService();
  const client: HelloClient = new Hello(opts.grpcTarget, grpc.credentials.createInsecure(), {
    'grpc.service_config': serviceConfig(opts.grpcPolicy),
    'grpc.dns_min_time_between_resolutions_ms': opts.grpcDnsMinIntervalMs,
  });
  const agent = new Agent({ keepAlive: opts.httpKeepAlive });
  let draining = false;
  const envelope = (name: string) => ({ name, version: VERSION, hostname: opts.hostname });
  const fail = (res: ServerResponse, name: string, err: string) =>
    sendJson(res, 502, { ...envelope(name), error: err });

  const server = createServer((req, res) => {
    if (maybeHealthz(req, res, () => draining)) return;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const name = nameParam(req);
    if (req.method !== 'GET' || (path !== '/hellogrpc' && path !== '/hellohttp')) {
      sendJson(res, 404, { error: `no route ${req.method} ${path}` });
      return;
    }
    if (path === '/hellogrpc') {
      client.SayHello({ name }, { deadline: Date.now() + BACKEND_TIMEOUT_MS }, (err, reply?: HelloReply) => {
        if (err || !reply) {
          fail(res, name, `hellogrpc: ${err?.details ?? 'no reply'}`);
          return;
        }
        // Go's generated struct: `json:"name,omitempty"` etc., fields in declaration order.
        const r: Record<string, string> = {};
        if (reply.name !== '') r.name = reply.name;
        if (reply.version !== '') r.version = reply.version;
        if (reply.hostname !== '') r.hostname = reply.hostname;
        sendJson(res, 200, { ...envelope(name), response: r });
      });
      return;
    }
    const url = new URL(httpUrl);
    if (name !== '') url.searchParams.set('name', name);
    const out = get(url, { agent, timeout: BACKEND_TIMEOUT_MS }, (bres) => {
      const chunks: Buffer[] = [];
      bres.on('data', (c: Buffer) => chunks.push(c));
      bres.on('error', (e) => fail(res, name, `hellohttp: ${e.message}`));
      bres.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          fail(res, name, `hellohttp: status ${bres.statusCode}, not JSON`);
          return;
        }
        if (bres.statusCode !== 200) fail(res, name, `hellohttp: status ${bres.statusCode}`);
        else sendJson(res, 200, { ...envelope(name), response: body });
      });
    });
    out.on('timeout', () => out.destroy(new Error('timeout')));
    out.on('error', (e) => fail(res, name, `hellohttp: ${e.message}`));
  });
  let port: number;
  try {
    port = await listen(server, opts.host, opts.port);
  } catch (err) {
    client.close();
    agent.destroy();
    throw err;
  }
  return {
    port,
    async close() {
      draining = true;
      await closeHttp(server);
      client.close();
      agent.destroy();
    },
  };
}

/** Parses a non-negative integer of milliseconds. Throws UsageError. */
export function parseMs(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name}: want milliseconds >= 0, got ${value}`);
  return n;
}

/** Parses a policy name. Throws UsageError for anything but round_robin or pick_first. */
export function parsePolicy(value: string): GrpcPolicy {
  const p = GRPC_POLICIES.find((x) => x === value);
  if (!p) throw new UsageError(`--grpc-policy: want ${GRPC_POLICIES.join(' or ')}, got ${value}`);
  return p;
}

/** The helloserve command: parses flags (argv, env), starts, and stops on SIGTERM. */
export function runHelloServe(argv: readonly string[]): Promise<void> {
  return runService(
    'helloserve',
    FLAGS,
    argv,
    (flags) =>
      startHelloServe({
        host: flags.get('host')!,
        port: parsePort('port', flags.get('port')!),
        hostname: podHostname(flags.get('hostname')!),
        grpcTarget: flags.get('grpc-target')!,
        grpcPolicy: parsePolicy(flags.get('grpc-policy')!),
        grpcDnsMinIntervalMs: parseMs('grpc-dns-min-interval-ms', flags.get('grpc-dns-min-interval-ms')!),
        httpUrl: flags.get('http-url')!,
        httpKeepAlive: parseBool('http-keepalive', flags.get('http-keepalive')!),
      }),
    (srv, flags) =>
      `listening on ${flags.get('host')}:${srv.port} (HTTP); gRPC ${flags.get('grpc-target')} ${flags.get('grpc-policy')}, HTTP ${flags.get('http-url')}`,
  );
}
