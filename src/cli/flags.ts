/**
 * etcd's command-line flags, with etcd 3.4's names and defaults, parsed the way Go's flag package
 * parses them (`--flag=value`, `--flag value`, `-flag`; booleans only as `--flag` or `--flag=bool`),
 * plus `ETCD_<FLAG>` environment variables (a flag on the command line wins over the variable).
 *
 * A flag etcd has but tsetcd does not implement yet is accepted only at its default value; set to
 * anything else it is refused with a sentence saying so, never silently ignored.
 */

import { parseDurationMs } from '../pkg/duration.js';

export { parseDurationMs };

export type FlagKind = 'string' | 'bool' | 'int' | 'duration';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  default: string;
  help: string;
  /** false: etcd has it, tsetcd does not implement it yet; only the default value is accepted. */
  supported: boolean;
}

const f = (name: string, kind: FlagKind, def: string, help: string, supported = true): FlagSpec => ({
  name,
  kind,
  default: def,
  help,
  supported,
});

/** Every flag etcd 3.4 accepts, in its --help order. */
export const FLAGS: FlagSpec[] = [
  f('name', 'string', 'default', 'Human-readable name for this member.'),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: etcd's literal default text
  f('data-dir', 'string', '${name}.etcd', 'Path to the data directory.'),
  f('wal-dir', 'string', '', 'Path to the dedicated wal directory.'),
  f('snapshot-count', 'int', '100000', 'Number of committed transactions to trigger a snapshot to disk.'),
  f('heartbeat-interval', 'int', '100', 'Time (in milliseconds) of a heartbeat interval.'),
  f('election-timeout', 'int', '1000', 'Time (in milliseconds) for an election to timeout.'),
  f(
    'initial-election-tick-advance',
    'bool',
    'true',
    'Whether to fast-forward initial election ticks on boot for faster election.',
  ),
  f('listen-peer-urls', 'string', 'http://localhost:2380', 'List of URLs to listen on for peer traffic.'),
  f('listen-client-urls', 'string', 'http://localhost:2379', 'List of URLs to listen on for client traffic.'),
  f('max-snapshots', 'int', '5', 'Maximum number of snapshot files to retain (0 is unlimited).'),
  f('max-wals', 'int', '5', 'Maximum number of wal files to retain (0 is unlimited).'),
  f(
    'quota-backend-bytes',
    'int',
    '0',
    'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).',
  ),
  f(
    'backend-batch-interval',
    'duration',
    '',
    'BackendBatchInterval is the maximum time before commit the backend transaction.',
  ),
  f(
    'backend-batch-limit',
    'int',
    '0',
    'BackendBatchLimit is the maximum operations before commit the backend transaction.',
  ),
  f('max-txn-ops', 'int', '128', 'Maximum number of operations permitted in a transaction.'),
  f('max-request-bytes', 'int', '1572864', 'Maximum client request size in bytes the server will accept.'),
  f(
    'max-concurrent-streams',
    'string',
    'math.MaxUint32',
    'Maximum concurrent streams that each client can open at a time.',
  ),
  f(
    'grpc-keepalive-min-time',
    'duration',
    '5s',
    'Minimum duration interval that a client should wait before pinging server.',
  ),
  f(
    'grpc-keepalive-interval',
    'duration',
    '2h',
    'Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).',
  ),
  f(
    'grpc-keepalive-timeout',
    'duration',
    '20s',
    'Additional duration of wait before closing a non-responsive connection (0 to disable).',
  ),
  f(
    'initial-advertise-peer-urls',
    'string',
    'http://localhost:2380',
    "List of this member's peer URLs to advertise to the rest of the cluster.",
  ),
  f(
    'initial-cluster',
    'string',
    'default=http://localhost:2380',
    'Initial cluster configuration for bootstrapping.',
  ),
  f('initial-cluster-state', 'string', 'new', "Initial cluster state ('new' or 'existing')."),
  f(
    'initial-cluster-token',
    'string',
    'etcd-cluster',
    'Initial cluster token for the etcd cluster during bootstrap.',
  ),
  f(
    'advertise-client-urls',
    'string',
    'http://localhost:2379',
    "List of this member's client URLs to advertise to the public.",
  ),
  f('discovery', 'string', '', 'Discovery URL used to bootstrap the cluster.', false),
  f(
    'discovery-fallback',
    'string',
    'proxy',
    "Expected behavior ('exit' or 'proxy') when discovery services fails.",
    false,
  ),
  f('discovery-proxy', 'string', '', 'HTTP proxy to use for traffic to discovery service.', false),
  f('discovery-srv', 'string', '', 'DNS srv domain used to bootstrap the cluster.', false),
  f('discovery-srv-name', 'string', '', 'Suffix to the dns srv name queried when bootstrapping.', false),
  f('strict-reconfig-check', 'bool', 'true', 'Reject reconfiguration requests that would cause quorum loss.'),
  f('pre-vote', 'bool', 'false', 'Enable to run an additional Raft election phase.'),
  f(
    'auto-compaction-retention',
    'string',
    '0',
    'Auto compaction retention length. 0 means disable auto compaction.',
  ),
  f(
    'auto-compaction-mode',
    'string',
    'periodic',
    "Interpret 'auto-compaction-retention' one of: periodic|revision.",
  ),
  f('enable-v2', 'bool', 'false', 'Accept etcd V2 client requests.', false),
  f('cert-file', 'string', '', 'Path to the client server TLS cert file.'),
  f('key-file', 'string', '', 'Path to the client server TLS key file.'),
  f('client-cert-auth', 'bool', 'false', 'Enable client cert authentication.'),
  f('client-crl-file', 'string', '', 'Path to the client certificate revocation list file.'),
  f('client-cert-allowed-hostname', 'string', '', 'Allowed TLS hostname for client cert authentication.'),
  f('trusted-ca-file', 'string', '', 'Path to the client server TLS trusted CA cert file.'),
  f('auto-tls', 'bool', 'false', 'Client TLS using generated certificates.'),
  f('peer-cert-file', 'string', '', 'Path to the peer server TLS cert file.'),
  f('peer-key-file', 'string', '', 'Path to the peer server TLS key file.'),
  f('peer-client-cert-auth', 'bool', 'false', 'Enable peer client cert authentication.'),
  f('peer-trusted-ca-file', 'string', '', 'Path to the peer server TLS trusted CA file.'),
  f('peer-cert-allowed-cn', 'string', '', 'Required CN for client certs connecting to the peer endpoint.'),
  f('peer-cert-allowed-hostname', 'string', '', 'Allowed TLS hostname for inter peer authentication.'),
  f(
    'peer-auto-tls',
    'bool',
    'false',
    'Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.',
  ),
  f('peer-crl-file', 'string', '', 'Path to the peer certificate revocation list file.'),
  f(
    'cipher-suites',
    'string',
    '',
    'Comma-separated list of supported TLS cipher suites between client/server and peers.',
  ),
  f(
    'cors',
    'string',
    '*',
    'Comma-separated whitelist of origins for CORS, or cross-origin resource sharing.',
  ),
  f(
    'host-whitelist',
    'string',
    '*',
    'Acceptable hostnames from HTTP client requests, if server is not secure.',
  ),
  f(
    'auth-token',
    'string',
    'simple',
    'Specify a v3 authentication token type and its options (simple or jwt).',
  ),
  f(
    'bcrypt-cost',
    'int',
    '10',
    'Specify the cost / strength of the bcrypt algorithm for hashing auth passwords.',
  ),
  f('auth-token-ttl', 'int', '300', 'The lifetime in seconds of the auth token.'),
  f('enable-pprof', 'bool', 'false', 'Enable runtime profiling data via HTTP server.', false),
  f(
    'metrics',
    'string',
    'basic',
    "Set level of detail for exported metrics, specify 'extensive' to include server side grpc histogram metrics.",
  ),
  f(
    'listen-metrics-urls',
    'string',
    '',
    'List of URLs to listen on for the metrics and health endpoints.',
    false,
  ),
  f(
    'logger',
    'string',
    'capnslog',
    "Currently only supports 'zap' for structured logging (tsetcd always logs structured JSON).",
  ),
  f(
    'log-outputs',
    'string',
    'default',
    "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd.",
  ),
  f(
    'log-level',
    'string',
    'info',
    'Configures log level. Only supports debug, info, warn, error, panic, or fatal.',
  ),
  f('proxy', 'string', 'off', "Proxy mode setting ('off', 'readonly' or 'on').", false),
  f(
    'proxy-failure-wait',
    'int',
    '5000',
    'Time (in milliseconds) an endpoint will be held in a failed state.',
    false,
  ),
  f(
    'proxy-refresh-interval',
    'int',
    '30000',
    'Time (in milliseconds) of the endpoints refresh interval.',
    false,
  ),
  f('proxy-dial-timeout', 'int', '1000', 'Time (in milliseconds) for a dial to timeout.', false),
  f('proxy-write-timeout', 'int', '5000', 'Time (in milliseconds) for a write to timeout.', false),
  f('proxy-read-timeout', 'int', '0', 'Time (in milliseconds) for a read to timeout.', false),
  f(
    'experimental-initial-corrupt-check',
    'bool',
    'false',
    'Enable to check data corruption before serving any client/peer traffic.',
  ),
  f(
    'experimental-corrupt-check-time',
    'duration',
    '0s',
    'Duration of time between cluster corruption check passes.',
  ),
  f(
    'experimental-enable-v2v3',
    'string',
    '',
    'Serve v2 requests through the v3 backend under a given prefix.',
    false,
  ),
  f(
    'experimental-backend-bbolt-freelist-type',
    'string',
    'array',
    'ExperimentalBackendFreelistType specifies the type of freelist that boltdb backend uses(array and map are supported types).',
  ),
  // On by default in tsetcd (etcd 3.4: off), so long leases cannot outlive repeated elections.
  f(
    'experimental-enable-lease-checkpoint',
    'bool',
    'true',
    'Enable to persist lease remaining TTL to prevent indefinite auto-renewal of long lived leases (tsetcd: on by default; etcd 3.4: off).',
  ),
  f(
    'experimental-compaction-batch-limit',
    'int',
    '1000',
    'Sets the maximum revisions deleted in each compaction batch.',
  ),
  f(
    'experimental-peer-skip-client-san-verification',
    'bool',
    'false',
    'Skip verification of SAN field in client certificate for peer connections.',
  ),
  f(
    'experimental-watch-progress-notify-interval',
    'duration',
    '10m',
    'Duration of periodic watch progress notifications.',
  ),
  f(
    'experimental-warning-apply-duration',
    'duration',
    '100ms',
    'Time duration after which a warning is generated if request takes more time.',
  ),
  f('force-new-cluster', 'bool', 'false', 'Force to create a new one member cluster.', false),
  f(
    'debug',
    'bool',
    'false',
    "Enable debug-level logging for etcd. [WARN] Will be deprecated in v3.5. Use '--log-level=debug' instead.",
  ),
  f(
    'log-package-levels',
    'string',
    '',
    "Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG').",
  ),
  // tsetcd's own, not etcd's: both are plain switches.
  f('version', 'bool', 'false', 'Print the version and exit.'),
  f(
    'config-file',
    'string',
    '',
    'Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.',
  ),
  f('help', 'bool', 'false', 'Show this help and exit.'),
];

const BY_NAME = new Map(FLAGS.map((s) => [s.name, s]));

/** A command-line or environment problem, with the text to print (exit code 2, as Go's flag package). */
export class FlagError extends Error {
  override name = 'FlagError';
}

export interface ParsedFlags {
  /** Every flag's effective value as a string (defaults filled in). */
  values: Map<string, string>;
  /** Flags explicitly given (command line or environment). */
  given: Set<string>;
  /** Non-fatal remarks to log (shadowed or unknown environment variables). */
  warnings: string[];
}

function envName(flag: string): string {
  return `ETCD_${flag.toUpperCase().replaceAll('-', '_')}`;
}

function parseBool(s: string): boolean | undefined {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'true':
    case 'TRUE':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'false':
    case 'FALSE':
    case 'False':
      return false;
    default:
      return undefined;
  }
}

function validate(spec: FlagSpec, raw: string, source: string): string {
  switch (spec.kind) {
    case 'bool': {
      const b = parseBool(raw);
      if (b === undefined) throw new FlagError(`invalid boolean value "${raw}" for ${source}: parse error`);
      return String(b);
    }
    case 'int':
      if (!/^-?\d+$/.test(raw)) throw new FlagError(`invalid value "${raw}" for ${source}: parse error`);
      return raw;
    case 'duration':
      if (raw !== '' && parseDurationMs(raw) === undefined) {
        throw new FlagError(`invalid value "${raw}" for ${source}: time: invalid duration "${raw}"`);
      }
      return raw;
    default:
      return raw;
  }
}

/** Parses argv and the environment into flag values. Throws FlagError for anything Go's flag package rejects. */
export function parseFlags(argv: string[], env: NodeJS.ProcessEnv): ParsedFlags {
  const values = new Map<string, string>();
  const given = new Set<string>();
  const warnings: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      throw new FlagError(`'${arg}' is not a valid flag`);
    }
    if (arg === '--') {
      if (i + 1 < argv.length) throw new FlagError(`'${argv[i + 1]}' is not a valid flag`);
      break;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = name === 'h' ? BY_NAME.get('help') : BY_NAME.get(name);
    if (!spec) throw new FlagError(`flag provided but not defined: -${name}`);
    let raw: string;
    if (eq >= 0) raw = body.slice(eq + 1);
    else if (spec.kind === 'bool') raw = 'true';
    else {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
      raw = argv[++i]!;
    }
    values.set(spec.name, validate(spec, raw, `-${name} flag`));
    given.add(spec.name);
  }
  const known = new Set(FLAGS.map((s) => envName(s.name)));
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('ETCD_') || v === undefined) continue;
    if (!known.has(k)) {
      // etcdctl's variables share the prefix; etcd itself only warns about the rest.
      if (!k.startsWith('ETCDCTL_') && k !== 'ETCD_UNSUPPORTED_ARCH')
        warnings.push(`unrecognized environment variable ${k}=${v}`);
      continue;
    }
    const spec = FLAGS.find((s) => envName(s.name) === k)!;
    if (given.has(spec.name)) {
      warnings.push(`ignored environment variable ${k}: shadowed by the corresponding command-line flag`);
      continue;
    }
    values.set(spec.name, validate(spec, v, `environment variable ${k}`));
    given.add(spec.name);
  }
  for (const spec of FLAGS) {
    if (!values.has(spec.name)) values.set(spec.name, spec.default);
    if (!spec.supported && given.has(spec.name) && values.get(spec.name) !== spec.default) {
      throw new FlagError(
        `--${spec.name} is not supported by tsetcd yet (only its default, '${spec.default}', is accepted)`,
      );
    }
  }
  return { values, given, warnings };
}

/** The --help text: every flag with its default, etcd's order. */
export function helpText(): string {
  const lines = [
    'Usage:',
    '',
    '  tsetcd [flags]',
    '    Start a tsetcd member (flags and environment variables as etcd 3.4: --flag=value or ETCD_FLAG=value).',
    '',
    '  tsetcd bench <put|range|txn-put> [flags]',
    '    Run the load generator (see `tsetcd bench --help`).',
    '',
    '  tsetcd certs init-ca|gencert ...    (see `tsetcd certs --help`)',
    '  tsetcd systemd --nodes NAME=IP,...  (see `tsetcd systemd --help`)',
    '',
    '  tsetcd --version',
    '  tsetcd -h | --help',
    '',
    'Flags:',
  ];
  for (const s of FLAGS) {
    const def = s.kind === 'bool' || s.kind === 'int' ? s.default : `'${s.default}'`;
    lines.push(`  --${s.name} ${def}`);
    lines.push(`      ${s.help}${s.supported ? '' : ' (not supported by tsetcd yet)'}`);
  }
  return `${lines.join('\n')}\n`;
}
