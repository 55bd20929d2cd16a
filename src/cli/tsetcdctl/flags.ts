/**
 * etcdctl's command-line grammar (cobra + pflag): global flags anywhere, `--flag=value`, `--flag value`,
 * boolean flags without a value, `-w` shorthand, `--` ending flags, and ETCDCTL_* variables for every
 * global flag (ETCDCTL_ENDPOINTS, ETCDCTL_DIAL_TIMEOUT, ...) — a flag given on the line wins.
 */

/** One flag: its kind and default. */
export interface FlagSpec {
  kind: 'string' | 'strings' | 'bool' | 'int' | 'duration';
  default?: string;
  short?: string;
  help: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

/** etcdctl 3.4's global flags (the ones tsetcdctl implements, plus --lb-policy of its own). */
export const GLOBAL_FLAGS: FlagSpecs = {
  endpoints: { kind: 'strings', default: '127.0.0.1:2379', help: 'gRPC endpoints' },
  'dial-timeout': { kind: 'duration', default: '2s', help: 'dial timeout for client connections' },
  'command-timeout': {
    kind: 'duration',
    default: '5s',
    help: 'timeout for short running command (excluding dial timeout)',
  },
  'keepalive-time': { kind: 'duration', default: '2s', help: 'keepalive time for client connections' },
  'keepalive-timeout': { kind: 'duration', default: '6s', help: 'keepalive timeout for client connections' },
  cacert: {
    kind: 'string',
    default: '',
    help: 'verify certificates of TLS-enabled secure servers using this CA bundle',
  },
  cert: { kind: 'string', default: '', help: 'identify secure client using this TLS certificate file' },
  key: { kind: 'string', default: '', help: 'identify secure client using this TLS key file' },
  'insecure-transport': {
    kind: 'bool',
    default: 'true',
    help: 'disable transport security for client connections',
  },
  'insecure-skip-tls-verify': {
    kind: 'bool',
    default: 'false',
    help: 'skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)',
  },
  'insecure-discovery': {
    kind: 'bool',
    default: 'true',
    help: 'accept insecure SRV records describing cluster endpoints',
  },
  'discovery-srv': {
    kind: 'string',
    default: '',
    short: 'd',
    help: 'domain name to query for SRV records describing cluster endpoints',
  },
  'discovery-srv-name': {
    kind: 'string',
    default: '',
    help: 'service name to query when using DNS discovery',
  },
  user: {
    kind: 'string',
    default: '',
    help: 'username[:password] for authentication (prompt if password is not supplied)',
  },
  password: {
    kind: 'string',
    default: '',
    help: "password for authentication (if this option is used, --user option shouldn't include password)",
  },
  'write-out': {
    kind: 'string',
    default: 'simple',
    short: 'w',
    help: 'set the output format (fields, json, protobuf, simple, table)',
  },
  hex: { kind: 'bool', default: 'false', help: 'print byte strings as hex encoded strings' },
  debug: { kind: 'bool', default: 'false', help: 'enable client-side debug logging' },
  'lb-policy': {
    kind: 'string',
    default: 'round_robin',
    help: 'tsetcdctl: gRPC balancing policy, round_robin or pick_first',
  },
};

/** Parsed command line: flag values (strings; bools "true"/"false") and positional arguments. */
export interface Parsed {
  flags: Map<string, string>;
  args: string[];
}

/** A usage error: printed as "Error: <message>", exit code 128 (etcdctl's ExitBadArgs). */
export class UsageError extends Error {}

/** Parses `argv` against the union of `specs`; unknown flags are usage errors (pflag's text). */
export function parseArgs(argv: string[], specs: FlagSpecs): Parsed {
  const flags = new Map<string, string>();
  const args: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, s] of Object.entries(specs)) if (s.short) byShort.set(s.short, name);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') || (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a))) {
      const long = a.startsWith('--');
      const body = long ? a.slice(2) : a.slice(1);
      const eq = body.indexOf('=');
      let name = eq >= 0 ? body.slice(0, eq) : body;
      if (!long) {
        const full = byShort.get(name);
        if (full === undefined) throw new UsageError(`unknown shorthand flag: '${name[0]}' in ${a}`);
        name = full;
      }
      const spec = specs[name];
      if (spec === undefined) throw new UsageError(`unknown flag: ${a.split('=')[0]}`);
      if (spec.kind === 'bool') {
        flags.set(name, eq >= 0 ? body.slice(eq + 1) : 'true');
      } else if (eq >= 0) {
        flags.set(name, body.slice(eq + 1));
      } else {
        const v = argv[i + 1];
        if (v === undefined) throw new UsageError(`flag needs an argument: ${a}`);
        flags.set(name, v);
        i++;
      }
      continue;
    }
    args.push(a);
  }
  return { flags, args };
}

/** The value of a flag: the command line, else ETCDCTL_<NAME> (global flags), else the default. */
export function flagValue(
  p: Parsed,
  specs: FlagSpecs,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const v = p.flags.get(name);
  if (v !== undefined) return v;
  if (name in GLOBAL_FLAGS) {
    const e = env[`ETCDCTL_${name.toUpperCase().replace(/-/g, '_')}`];
    if (e !== undefined) return e;
  }
  return specs[name]?.default ?? '';
}
