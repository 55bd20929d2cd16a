/**
 * etcd's `--config-file`: a YAML file whose keys are etcd's embed.Config JSON names (mostly the flag
 * names), turned into the equivalent command line so that every value goes through the same
 * parsing and checks as a flag. As etcd 3.4 does, a configuration file replaces the command line
 * and the ETCD_* environment entirely (etcdmain.config.parse: "other configuration command line
 * flags and environment variables will be ignored if provided").
 *
 * The shapes etcd reads (ghodss/yaml into configYAML, so JSON types): strings, numbers and booleans
 * as such; `cipher-suites` and `log-outputs` as lists; durations (`grpc-keepalive-*`,
 * `backend-batch-interval`, `experimental-*-interval`) as integer nanoseconds, since Go's
 * time.Duration unmarshals from a JSON number; TLS in two blocks:
 *
 *   client-transport-security: {cert-file, key-file, client-cert-auth, trusted-ca-file, auto-tls}
 *   peer-transport-security:   the same, for --peer-cert-file, --peer-key-file, ...
 *
 * A null value (a key with nothing after the colon) leaves the default, as in etcd. A key etcd does
 * not know is ignored by etcd; here it is reported as a warning.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { FLAGS, FlagError, type FlagSpec } from './flags.js';

/** The flags a configuration file stands for, and remarks to log. */
export interface ConfigFileArgs {
  /** `--name=value` arguments for parseFlags. */
  args: string[];
  warnings: string[];
}

const SECURITY_KEYS: Record<string, { client: string; peer: string }> = {
  'cert-file': { client: 'cert-file', peer: 'peer-cert-file' },
  'key-file': { client: 'key-file', peer: 'peer-key-file' },
  'client-cert-auth': { client: 'client-cert-auth', peer: 'peer-client-cert-auth' },
  'trusted-ca-file': { client: 'trusted-ca-file', peer: 'peer-trusted-ca-file' },
  'auto-tls': { client: 'auto-tls', peer: 'peer-auto-tls' },
};

/** Flags that are lists in etcd's YAML (Go []string). */
const LIST_KEYS = new Set(['cipher-suites', 'log-outputs', 'log-output']);

/** Go types of etcd's integer fields (configYAML), for its error text; the rest are int. */
const GO_INT_TYPES: Record<string, string> = {
  'snapshot-count': 'uint64',
  'max-snapshots': 'uint',
  'max-wals': 'uint',
  'heartbeat-interval': 'uint',
  'election-timeout': 'uint',
  'quota-backend-bytes': 'int64',
  'max-txn-ops': 'uint',
  'max-request-bytes': 'uint',
  'max-concurrent-streams': 'uint32',
  'bcrypt-cost': 'uint',
  'auth-token-ttl': 'uint',
};

/** Keys of etcd's YAML that are not flags of their own. */
const IGNORED_KEYS = new Set(['config-file']);

function typeName(v: unknown): string {
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return 'string';
}

/** Go's json error text for a value of the wrong type (what etcd prints for such a file). */
function typeError(key: string, v: unknown, goType: string): FlagError {
  return new FlagError(
    `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${typeName(v)} into Go struct field configYAML.${key} of type ${goType}`,
  );
}

/** One YAML value as the string the flag parser takes for `spec`. */
function flagValue(key: string, spec: FlagSpec, v: unknown): string {
  if (LIST_KEYS.has(key)) {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw typeError(key, v, '[]string');
    return v.join(',');
  }
  const goInt = GO_INT_TYPES[key];
  if (goInt !== undefined) {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(key, v, goInt);
    return String(v);
  }
  switch (spec.kind) {
    case 'bool':
      if (typeof v !== 'boolean') throw typeError(key, v, 'bool');
      return String(v);
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(key, v, 'int');
      return String(v);
    case 'duration':
      // time.Duration in JSON: integer nanoseconds.
      if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(key, v, 'time.Duration');
      return v === 0 ? '0' : `${v}ns`;
    case 'string':
      if (typeof v !== 'string') throw typeError(key, v, 'string');
      return v;
  }
}

/**
 * Turns the text of an etcd YAML configuration file into flag arguments. Throws FlagError for YAML
 * that does not parse, a document that is not a mapping, or a value of the wrong type.
 */
export function configFileArgs(text: string): ConfigFileArgs {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new FlagError(`error converting YAML to JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const out: ConfigFileArgs = { args: [], warnings: [] };
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new FlagError(
      'error unmarshaling JSON: while decoding JSON: json: cannot unmarshal non-object into Go value of type embed.configYAML',
    );
  }
  const byName = new Map(FLAGS.map((s) => [s.name, s]));
  const push = (flag: string, key: string, v: unknown) => {
    const spec = byName.get(flag);
    if (spec === undefined) {
      out.warnings.push(`configuration key "${key}" is not known to tsetcd; ignored`);
      return;
    }
    out.args.push(`--${flag}=${flagValue(key, spec, v)}`);
  };
  for (const [key, v] of Object.entries(doc as Record<string, unknown>)) {
    if (v === null || IGNORED_KEYS.has(key)) continue;
    if (key === 'client-transport-security' || key === 'peer-transport-security') {
      if (typeof v !== 'object' || Array.isArray(v)) throw typeError(key, v, 'embed.securityConfig');
      const side = key === 'client-transport-security' ? 'client' : 'peer';
      for (const [sub, sv] of Object.entries(v as Record<string, unknown>)) {
        if (sv === null) continue;
        const m = SECURITY_KEYS[sub];
        if (m === undefined)
          out.warnings.push(`configuration key "${key}.${sub}" is not known to etcd 3.4; ignored`);
        else push(m[side], `${key}.${sub}`, sv);
      }
      continue;
    }
    push(key === 'log-output' ? 'log-outputs' : key, key, v);
  }
  return out;
}

/** Reads and maps the file at `path`; a missing file is Go's `open PATH: no such file or directory`. */
export function loadConfigFile(path: string): ConfigFileArgs {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FlagError(
      `open ${path}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
    );
  }
  return configFileArgs(text);
}
