/**
 * `tsetcd dashboard`: a live web UI for a tsetcd (or etcd) cluster, run as a separate client process.
 * See README.md in this folder for why it is a client and not part of a member.
 */
import { request as httpGet } from 'node:http';
import { request as httpsGet } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, type ClientOptions } from '../client/index.js';
import { collectBodyCapped, realClock } from '../pkg/index.js';
import { ClusterPoller, type PollerHost } from './poller.js';
import { DashboardServer } from './server.js';

export { ClusterPoller, type PollerHost } from './poller.js';
export { DashboardServer, WRITES_DISABLED } from './server.js';

/** Largest /metrics body read, in bytes. */
export const METRICS_BYTES_MAX = 8 << 20;

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
        collectBodyCapped(
          req,
          res,
          METRICS_BYTES_MAX,
          (body) => {
            if (res.statusCode !== 200) reject(new Error(`/metrics answered ${res.statusCode}`));
            else resolve(body.toString('utf8'));
          },
          'metrics body',
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('metrics: timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** A dashboard that cannot start as configured (the command line reports it as a usage error). */
export class DashboardConfigError extends Error {}

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
    throw new DashboardConfigError(
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
