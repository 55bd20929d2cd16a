/**
 * `tsetcd gateway start`: etcd's `etcd gateway start`, a stateless TCP proxy in front of a cluster's
 * client URLs (pkg/tcp-proxy.ts does the proxying). Clients that can take one address only (an
 * application config with a single host:port) reach every member through it; a member that refuses
 * connections is skipped until a probe finds it back, every --retry-delay.
 *
 * Flags and texts as etcd 3.4's: --listen-addr (127.0.0.1:23790), --endpoints (URLs or host:port;
 * the scheme is dropped: bytes pass through, TLS included), --discovery-srv / --discovery-srv-name
 * (SRV records `_etcd-client-ssl._tcp` and `_etcd-client._tcp`, with their priorities and weights;
 * https ones are kept only if a TLS handshake with --trusted-ca-file succeeds, unless
 * --insecure-discovery), --retry-delay (1m0s). An endpoint that resolves to the gateway's own
 * listen address is refused, as etcd refuses it (the gateway would proxy to itself).
 */
import { lookup, resolveSrv } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseDurationMs } from '../pkg/index.js';
import { type ProxyRemote, TcpProxy } from '../pkg/tcp-proxy.js';
import { createLogger } from '../server/logger.js';
import { sdNotifierFromEnv } from './sd-notify.js';
import { type FlagSpecs, parseArgs, UsageError } from './tsetcdctl/flags.js';

const FLAGS: FlagSpecs = {
  'listen-addr': { kind: 'string', default: '127.0.0.1:23790', help: 'listen address' },
  'discovery-srv': { kind: 'string', default: '', help: 'DNS domain used to bootstrap initial cluster' },
  'discovery-srv-name': {
    kind: 'string',
    default: '',
    help: 'service name to query when using DNS discovery',
  },
  'insecure-discovery': { kind: 'bool', default: 'false', help: 'accept insecure SRV records' },
  'trusted-ca-file': {
    kind: 'string',
    default: '',
    help: 'path to the client server TLS CA file for verifying the discovered endpoints when discovery-srv is provided.',
  },
  endpoints: { kind: 'string', default: '127.0.0.1:2379', help: 'comma separated etcd cluster endpoints' },
  'retry-delay': {
    kind: 'duration',
    default: '1m0s',
    help: 'duration of delay before retrying failed endpoints',
  },
  help: { kind: 'bool', default: 'false', short: 'h', help: 'help for start' },
};

/** pflag's type names as cobra's usage prints them (--endpoints is a string slice in etcd). */
const TYPE_NAMES: Record<string, string> = { endpoints: 'strings', 'retry-delay': 'duration' };

/** Flag lines as cobra's default usage template prints them (pflag's FlagUsages). */
function cobraFlagLines(specs: FlagSpecs): string {
  const rows = Object.keys(specs)
    .sort()
    .map((name) => {
      const s = specs[name]!;
      const type = s.kind === 'bool' ? '' : ` ${TYPE_NAMES[name] ?? 'string'}`;
      const left = `  ${s.short ? `-${s.short}, ` : '    '}--${name}${type}`;
      let dflt = '';
      if (name === 'endpoints') dflt = ` (default [${s.default}])`;
      else if (s.kind === 'duration' || (s.kind === 'bool' && s.default === 'true'))
        dflt = ` (default ${s.default})`;
      else if (s.kind === 'string' && s.default !== '') dflt = ` (default "${s.default}")`;
      return [left, `${s.help}${dflt}`] as const;
    });
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `${l.padEnd(width)}   ${h}`).join('\n');
}

const USAGE = `start the gateway

Usage:
  tsetcd gateway start [flags]

Flags:
${cobraFlagLines(FLAGS)}
`;

const GATEWAY_USAGE = `gateway related command

Usage:
  tsetcd gateway [command]

Available Commands:
  start       start the gateway

Flags:
  -h, --help   help for gateway

Use "tsetcd gateway [command] --help" for more information about a command.
`;

/** Fails the command with etcd's text on stdout (etcd prints these with fmt.Println), exit 1. */
class GatewayExit extends Error {}

export async function runGatewayCommand(argv: string[]): Promise<number> {
  let flags: Map<string, string>;
  let args: string[];
  try {
    ({ flags, args } = parseArgs(argv, FLAGS));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`Error: ${err.message}\n${USAGE}`);
    return 1;
  }
  const flag = (name: string) => flags.get(name) ?? FLAGS[name]?.default ?? '';
  if (args[0] !== 'start' || flag('help') === 'true') {
    process.stdout.write(args[0] === 'start' ? USAGE : GATEWAY_USAGE);
    return args.length === 0 || flag('help') === 'true' ? 0 : 1;
  }
  const logger = createLogger('info', 'tsetcd-gateway');
  try {
    const remotes = await gatewayRemotes({
      endpoints: flag('endpoints'),
      discoverySrv: flag('discovery-srv'),
      discoverySrvName: flag('discovery-srv-name'),
      insecureDiscovery: flag('insecure-discovery') === 'true',
      trustedCaFile: flag('trusted-ca-file'),
      listenAddr: flag('listen-addr'),
    });
    const [host, port] = splitHostPort(flag('listen-addr'), 'failed to validate listen address:');
    const retryDelayMs = parseDurationMs(flag('retry-delay'));
    if (retryDelayMs === undefined || retryDelayMs <= 0)
      throw new GatewayExit(`invalid argument "${flag('retry-delay')}" for "--retry-delay" flag`);
    const proxy = new TcpProxy({ remotes, retryDelayMs, logger });
    await proxy.listen(host, port);
    // As etcd: systemd's Type=notify learns the gateway is listening.
    await sdNotifierFromEnv(process.env)
      ?.notify('READY=1')
      .catch((err: unknown) => logger.warn({ error: String(err) }, 'failed to notify systemd for readiness'));
    await new Promise<void>((resolve) => {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
    });
    await proxy.close();
    return 0;
  } catch (err) {
    if (!(err instanceof GatewayExit)) throw err;
    process.stdout.write(`${err.message}\n`);
    return 1;
  }
}

export interface GatewayInput {
  endpoints: string;
  discoverySrv: string;
  discoverySrvName: string;
  insecureDiscovery: boolean;
  trustedCaFile: string;
  listenAddr: string;
}

/** The remotes to proxy to, from SRV records or the endpoint list, checked against the listen address. */
export async function gatewayRemotes(input: GatewayInput): Promise<ProxyRemote[]> {
  let remotes = input.discoverySrv === '' ? [] : await discoverRemotes(input);
  if (remotes.length === 0) {
    remotes = input.endpoints
      .split(',')
      .filter((e) => e !== '')
      .map((e) => {
        const [host, port] = splitHostPort(stripScheme(e), 'error parsing endpoint');
        return { host, port, priority: 0, weight: 0 };
      });
  }
  if (remotes.length === 0) throw new GatewayExit('no endpoints found');
  const [lhost, lport] = splitHostPort(input.listenAddr, 'failed to validate listen address:');
  const listenAddrs = await resolveAll(lhost, 'failed to resolve listen host:');
  for (const r of remotes) {
    const addrs = await resolveAll(r.host, 'failed to resolve endpoint host:');
    if (r.port !== lport) continue;
    const own = [...addrs].find((a) => listenAddrs.has(a));
    if (own !== undefined)
      throw new GatewayExit(
        `SRV or endpoint (${r.host}:${r.port}->${own}:${r.port}) should not resolve to the gateway listen addr (${input.listenAddr})`,
      );
  }
  return remotes;
}

async function discoverRemotes(input: GatewayInput): Promise<ProxyRemote[]> {
  const suffix = input.discoverySrvName === '' ? '' : `-${input.discoverySrvName}`;
  const out: ProxyRemote[] = [];
  for (const [service, secure] of [
    [`_etcd-client-ssl${suffix}._tcp.${input.discoverySrv}`, true],
    [`_etcd-client${suffix}._tcp.${input.discoverySrv}`, false],
  ] as const) {
    const records = await resolveSrv(service).catch(() => []);
    for (const rec of records) {
      const host = rec.name.replace(/\.$/, '');
      if (secure && !input.insecureDiscovery && !(await verifiesTls(host, rec.port, input.trustedCaFile)))
        continue;
      out.push({ host, port: rec.port, priority: rec.priority, weight: rec.weight });
    }
  }
  return out;
}

/** Whether a TLS handshake with host:port verifies against the CA file (etcd's ValidateSecureEndpoints). */
function verifiesTls(host: string, port: number, caFile: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ca = caFile === '' ? undefined : readFileSync(caFile);
    const sock = tls.connect({
      host,
      port,
      ca,
      servername: net.isIP(host) ? undefined : host,
      timeout: 5000,
    });
    sock.once('secureConnect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

function stripScheme(ep: string): string {
  try {
    const u = new URL(ep);
    if (u.host !== '') return u.host;
  } catch {
    // not a URL: host:port as given
  }
  return ep;
}

function splitHostPort(hostPort: string, failure: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(hostPort);
  if (m === null)
    throw new GatewayExit(failure.endsWith(':') ? `${failure} ${hostPort}` : `${failure} "${hostPort}"`);
  return [m[1] ?? m[2] ?? '', Number(m[3])];
}

async function resolveAll(host: string, failure: string): Promise<Set<string>> {
  try {
    return new Set((await lookup(host, { all: true })).map((a) => a.address));
  } catch {
    throw new GatewayExit(`${failure} ${host}`);
  }
}
