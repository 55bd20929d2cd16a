/**
 * `tsetcd dashboard`: a live web UI for a tsetcd (or etcd) cluster, run as a separate client process.
 * See README.md in this folder for why it is a client and not part of a member.
 */
import { request as httpGet } from 'node:http';
import { request as httpsGet } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type FlagSpecs,
  flagHelp,
  flagValue,
  GLOBAL_FLAGS,
  parseArgs,
  UsageError,
} from '../cli/tsetcdctl/flags.js';
import { clientOptions } from '../cli/tsetcdctl/main.js';
import { Client, type ClientOptions } from '../client/index.js';
import { parseDurationMs, realClock } from '../pkg/index.js';
import { ClusterPoller, type PollerHost } from './poller.js';
import { DashboardServer } from './server.js';

export { ClusterPoller, type PollerHost } from './poller.js';
export { DashboardServer, WRITES_DISABLED } from './server.js';

/** Largest /metrics body read, in bytes. */
export const METRICS_BYTES_MAX = 8 << 20;

/** The dashboard's own flags; etcdctl's global flags (endpoints, TLS, --user) come on top. */
export const DASHBOARD_FLAGS: FlagSpecs = {
  listen: {
    kind: 'string',
    default: 'http://127.0.0.1:2381',
    help: 'URL to serve the dashboard on (http only)',
  },
  'enable-writes': {
    kind: 'bool',
    default: 'false',
    help: 'allow put, delete and lease revoke from the page (read-only without it)',
  },
  'poll-interval': {
    kind: 'duration',
    default: '1s',
    help: 'how often members, status and /metrics are read',
  },
};

const HELP = `Usage: tsetcd dashboard [flags]

Serves a live web UI of the cluster at --listen: members (role, term, raft and applied index, db
size, health, alarms), leader changes, requests per second per member and method, a key browser
with history and diffs, a watch tail and leases. It connects as a client (as tsetcdctl does), so
auth (--user) and TLS (--cacert, --cert, --key) apply. Read-only unless --enable-writes.

Flags:
`;

/** The folder of the built page (dist/src/dashboard/assets). */
export function assetsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'assets');
}

/** GET `<clientURL>/metrics` over http or https with the client's TLS files. */
export function scrapeMetrics(clientURL: string, o: ClientOptions, timeoutMs: number): Promise<string> {
  const u = new URL('/metrics', clientURL.includes('://') ? clientURL : `http://${clientURL}`);
  const tls = u.protocol === 'https:';
  const get = tls ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = get(
      u,
      {
        timeout: timeoutMs,
        ...(tls
          ? {
              ca: o.tls?.ca,
              cert: o.tls?.cert,
              key: o.tls?.key,
              rejectUnauthorized: !(o.tls?.insecureSkipVerify ?? false),
            }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > METRICS_BYTES_MAX) req.destroy(new Error('metrics body too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`/metrics answered ${res.statusCode}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('metrics: timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** A running dashboard: its address and how to stop it. */
export interface RunningDashboard {
  url: string;
  close(): Promise<void>;
}

/** Starts a dashboard on `listen` for the cluster the client options name. */
export async function startDashboard(o: {
  client: ClientOptions;
  listen: string;
  writesEnabled: boolean;
  pollIntervalMs: number;
  assetsDir?: string;
}): Promise<RunningDashboard> {
  const u = new URL(o.listen);
  if (u.protocol !== 'http:') {
    throw new UsageError(
      `tsetcd dashboard: --listen ${o.listen}: only http:// is built; put a TLS proxy in front`,
    );
  }
  const client = new Client(o.client);
  const perMember = new Map<string, Client>();
  // A killed member refuses at once; the deadline is for a slow or hung one, and must not be so short
  // that a busy machine makes healthy members flap.
  const callMs = Math.min(5000, Math.max(1000, 2 * o.pollIntervalMs));
  const memberClient = (url: string) => {
    let c = perMember.get(url);
    if (c === undefined) {
      c = new Client({ ...o.client, endpoints: [url], discoverySrv: undefined });
      perMember.set(url, c);
    }
    return c;
  };
  const host: PollerHost = {
    clock: realClock,
    members: async () => {
      const r = await client.cluster.list({ deadlineMs: callMs });
      const urls = new Set(r.members.flatMap((m) => m.clientURLs.slice(0, 1)));
      for (const [url, c] of perMember) {
        if (!urls.has(url)) {
          c.close();
          perMember.delete(url);
        }
      }
      return { clusterId: r.header?.clusterId ?? 0n, members: r.members };
    },
    status: (url) => memberClient(url).maintenance.status({ deadlineMs: callMs }),
    alarms: async () => (await client.maintenance.alarm('get', { deadlineMs: callMs })).alarms,
    scrape: (url) => scrapeMetrics(url, o.client, callMs),
  };
  const poller = new ClusterPoller(host, o.writesEnabled);
  const server = new DashboardServer({
    client,
    poller,
    pollIntervalMs: o.pollIntervalMs,
    writesEnabled: o.writesEnabled,
    assetsDir: o.assetsDir ?? assetsDir(),
    callTimeoutMs: o.client.callTimeoutMs ?? 5000,
  });
  const addr = await server.listen(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 80));
  const host6 = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host6}:${addr.port}/`,
    close: async () => {
      poller.stop();
      await server.close();
      for (const c of perMember.values()) c.close();
      client.close();
    },
  };
}

function pollInterval(s: string): number {
  const ms = parseDurationMs(s);
  if (ms === undefined || ms < 100) {
    throw new UsageError(`tsetcd dashboard: --poll-interval ${s}: give a duration of at least 100ms`);
  }
  return ms;
}

/** `tsetcd dashboard ...`: resolves with the exit code once SIGINT/SIGTERM stops it. */
export async function runDashboard(argv: string[]): Promise<number> {
  const specs = {
    ...GLOBAL_FLAGS,
    ...DASHBOARD_FLAGS,
    help: { kind: 'bool' as const, short: 'h', help: 'help' },
  };
  let running: RunningDashboard;
  try {
    const p = parseArgs(argv, specs);
    if (p.flags.get('help') === 'true') {
      process.stdout.write(`${HELP}${flagHelp({ ...DASHBOARD_FLAGS, ...GLOBAL_FLAGS })}\n`);
      return 0;
    }
    if (p.args.length > 0) throw new UsageError(`tsetcd dashboard: unexpected argument ${p.args[0]}`);
    const co = clientOptions(p);
    if (co.discoverySrv !== undefined) {
      throw new UsageError('tsetcd dashboard: --discovery-srv is not built yet; give --endpoints');
    }
    running = await startDashboard({
      client: co,
      listen: flagValue(p, specs, 'listen'),
      writesEnabled: flagValue(p, specs, 'enable-writes') === 'true',
      pollIntervalMs: pollInterval(flagValue(p, specs, 'poll-interval')),
    });
  } catch (e) {
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 128 : 1;
  }
  process.stdout.write(`tsetcd dashboard: serving ${running.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  return 0;
}
