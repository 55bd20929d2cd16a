/**
 * `tsetcd dashboard ...`: the command line of the dashboard (src/dashboard): etcdctl's global flags
 * (endpoints, TLS, --user) plus its own, help, and running until SIGINT/SIGTERM.
 */
import { DashboardConfigError, type RunningDashboard, startDashboard } from '../dashboard/index.js';
import { parseDurationMs } from '../pkg/index.js';
import { type FlagSpecs, flagValue, GLOBAL_FLAGS, parseArgs, UsageError } from './tsetcdctl/flags.js';
import { flagUsages } from './tsetcdctl/help.js';
import { clientOptions } from './tsetcdctl/main.js';

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
      process.stdout.write(`${HELP}${flagUsages({ ...DASHBOARD_FLAGS, ...GLOBAL_FLAGS })}\n`);
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
    return e instanceof UsageError || e instanceof DashboardConfigError ? 128 : 1;
  }
  process.stdout.write(`tsetcd dashboard: serving ${running.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  return 0;
}
