/**
 * What the three kubetester services share: flags (`--flag=value`, `--flag value`, or an
 * environment variable), the pod's hostname, JSON replies, `/healthz`, graceful shutdown on SIGTERM,
 * and finding hello.proto. Imports node built-ins and npm packages only — nothing of tsetcd.
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One flag: its name (without dashes), its environment variable and its default. */
export interface FlagSpec {
  readonly name: string;
  readonly env: string;
  readonly default: string;
  readonly help: string;
}

/** --host, every service's listen address. */
export const HOST_FLAG: FlagSpec = {
  name: 'host',
  env: 'HOST',
  default: '0.0.0.0',
  help: 'address to listen on',
};

/** --hostname, the name every service reports (podHostname: the kernel's hostname when empty). */
export const HOSTNAME_FLAG: FlagSpec = {
  name: 'hostname',
  env: 'HELLO_HOSTNAME',
  default: '',
  help: 'name to report (default: os hostname)',
};

/** Thrown for an unknown flag or a flag without its value; the message is for the user. */
export class UsageError extends Error {}

/**
 * Parses argv against `specs`: each flag from argv, else its environment variable, else its
 * default. `--help` returns null (the caller prints `usage(specs)`). Throws UsageError.
 */
export function parseFlags(
  specs: readonly FlagSpec[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const s of specs) out.set(s.name, env[s.env] ?? s.default);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return null;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs.find((s) => s.name === name);
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new UsageError(`flag --${name} needs a value`);
    out.set(name, value);
  }
  return out;
}

/** The usage text for `specs`, one flag a line. */
export function usage(program: string, specs: readonly FlagSpec[]): string {
  const lines = specs.map(
    (s) => `  --${s.name} (env ${s.env}, default ${JSON.stringify(s.default)})  ${s.help}`,
  );
  return `usage: ${program} [flags]\n${lines.join('\n')}\n`;
}

/** Parses a port flag: an integer in 0..65535 (0: any free port). Throws UsageError. */
export function parsePort(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name}: bad port ${value}`);
  return n;
}

/** Parses a boolean flag: true/false/1/0. Throws UsageError. */
export function parseBool(name: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new UsageError(`--${name}: want true or false, got ${value}`);
}

/**
 * The name this replica reports: `--hostname` when given, else the kernel's hostname — in
 * Kubernetes the pod name, as Go's os.Hostname() returns it in the seed.
 */
export function podHostname(flag: string): string {
  return flag !== '' ? flag : hostname();
}

/** Writes `body` as JSON (one line, no trailing newline, as Go's json.Marshal + w.Write). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Answers `/healthz` with `ok` (200) while serving and 503 once shutdown began, so a readiness
 * probe takes the pod out of its Service before the listener closes. Returns whether it answered.
 */
export function maybeHealthz(req: IncomingMessage, res: ServerResponse, draining: () => boolean): boolean {
  if (new URL(req.url ?? '/', 'http://x').pathname !== '/healthz') return false;
  const status = draining() ? 503 : 200;
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(status === 200 ? 'ok' : 'draining');
  return true;
}

/** The `name` query parameter of a request ('' when absent), passed through to the backends. */
export function nameParam(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? '';
}

/** Listens on host:port and resolves with the bound port. */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(port, host, () => {
      server.off('error', rej);
      const addr = server.address();
      res(typeof addr === 'object' && addr !== null ? addr.port : port);
    });
  });
}

/** How long a graceful shutdown may take before the process exits anyway (Kubernetes: 30 s). */
export const SHUTDOWN_GRACE_MS = 10_000;

/**
 * On SIGTERM or SIGINT runs `stop` once (stop accepting, let in-flight requests finish), then exits
 * 0; exits 1 if `stop` fails or takes longer than SHUTDOWN_GRACE_MS.
 */
export function onShutdown(log: (line: string) => void, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`received ${signal}; shutting down`);
    setTimeout(() => {
      log('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`shutdown failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

/** Stops an HTTP server: no new connections, idle keep-alive connections closed, in-flight finished. */
export function closeHttp(server: Server): Promise<void> {
  return new Promise((res, rej) => {
    server.close((err) => (err ? rej(err) : res()));
    server.closeIdleConnections();
  });
}

/**
 * Finds hello.proto: `$HELLO_PROTO`, else `proto/hello.proto` or `kubetester/proto/hello.proto` in
 * this module's folder or any folder above it (works from the sources, from the repo's dist/ and
 * from a container image). Throws when it is nowhere.
 */
export function helloProtoPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HELLO_PROTO) return env.HELLO_PROTO;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const rel of ['proto/hello.proto', 'kubetester/proto/hello.proto']) {
      const p = join(dir, rel);
      if (existsSync(p)) return p;
    }
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('hello.proto not found (set HELLO_PROTO)');
    dir = up;
  }
}

/** A timestamped log line on stderr, prefixed with the service name. */
export function logger(service: string): (line: string) => void {
  return (line) => process.stderr.write(`${new Date().toISOString()} ${service}: ${line}\n`);
}

/**
 * A service's command: parses `specs` from `argv` and the environment (printing the usage for
 * --help), starts the service with them, stops it on SIGTERM or SIGINT (onShutdown) and logs the
 * line `listening` gives. A usage error or a failed start is logged and the exit code is 2.
 */
export async function runService<S extends { close(): Promise<void> }>(
  program: string,
  specs: readonly FlagSpec[],
  argv: readonly string[],
  start: (flags: Map<string, string>) => Promise<S>,
  listening: (srv: S, flags: Map<string, string>) => string,
): Promise<void> {
  const log = logger(program);
  try {
    const flags = parseFlags(specs, argv, process.env);
    if (!flags) {
      process.stdout.write(usage(program, specs));
      return;
    }
    const srv = await start(flags);
    // The handler goes in before the line that says we listen: a supervisor may signal right after it.
    onShutdown(log, () => srv.close());
    log(listening(srv, flags));
  } catch (err) {
    log(err instanceof UsageError ? err.message : `cannot start: ${(err as Error).message}`);
    process.exitCode = 2;
  }
}
