/**
 * Starts one etcd or tsetcd member with identical etcd flags, on free ports and a fresh data dir,
 * and waits until it answers /health. tsetcd accepts etcd's flags, which is what makes every
 * differential test a plain "run the same thing against both binaries".
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { freePort, onProcessExit, repoRoot, type TempDir, tempDir, waitFor } from './util.js';

/** Which binary: Debian's etcd 3.4 (/usr/bin/etcd) or ours (node bin/tsetcd.js). */
export type MemberKind = 'etcd' | 'tsetcd';

/** How long a member may take to answer /health after spawning. */
export const START_TIMEOUT_MS = 15_000;
/** How long `stop()` waits after SIGTERM before it sends SIGKILL. */
export const STOP_GRACE_MS = 5_000;
/** How much of a member's combined stdout/stderr is kept for failure reports. */
export const LOG_KEEP_BYTES = 256 * 1024;

/** The part of node:test's TestContext we use to register cleanup. */
export interface AfterHook {
  after(fn: () => unknown): void;
}

/** Options of `startMember`. */
export interface MemberOptions {
  /** --name; default "m1". */
  name?: string;
  /** More flags, appended after the standard ones (e.g. ['--max-txn-ops', '4']). */
  extraFlags?: string[];
  /** Extra environment variables for the process. */
  env?: Record<string, string>;
  /** When given, the member is stopped and its data dir removed in `t.after`. */
  t?: AfterHook;
  /** Deadline for /health after (re)start. */
  startTimeoutMs?: number;
  /**
   * Serve clients on https:// (the TLS flags go in `extraFlags`); /health is then polled over TLS
   * with these files (`insecure`: no server verification, for --auto-tls).
   */
  clientTls?: HealthTls;
  /** Use https:// peer URLs (the --peer-* flags go in `extraFlags`). */
  peerTls?: boolean;
  /** More client URLs to listen on besides the harness's own (e.g. an http one next to https). */
  extraListenClientUrls?: string[];
}

/** How the harness reaches /health on an https:// client URL. */
export interface HealthTls {
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
}

/** A running (or stopped) member. */
export interface Member {
  readonly kind: MemberKind;
  readonly name: string;
  /** http://127.0.0.1:<client port> */
  readonly clientURL: string;
  /** http://127.0.0.1:<peer port> */
  readonly peerURL: string;
  /** 127.0.0.1:<client port>, as etcdctl --endpoints and grpc-js want it. */
  readonly endpoint: string;
  readonly dataDir: string;
  /** The flags the member was started with (without the binary). */
  readonly args: readonly string[];
  /** The process id, or undefined when not running. */
  pid(): number | undefined;
  /** Everything the process wrote to stdout and stderr (the last LOG_KEEP_BYTES), across restarts. */
  logs(): string;
  /** SIGTERM, wait for exit; SIGKILL after STOP_GRACE_MS. Idempotent. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops (if running) and starts again with the same flags and data dir; waits for /health. */
  restart(): Promise<void>;
  /** Stops the member and removes its data dir. Idempotent. */
  cleanup(): Promise<void>;
}

/** argv for a member kind: the executable and the leading arguments before the etcd flags. */
export function commandFor(kind: MemberKind): { cmd: string; pre: string[] } {
  if (kind === 'etcd') return { cmd: process.env.ETCD_BIN ?? 'etcd', pre: [] };
  return { cmd: process.execPath, pre: [join(repoRoot(), 'bin', 'tsetcd.js')] };
}

/** GET over https with the given files; resolves with the body, rejects on any failure. */
function httpsGet(
  url: string,
  tlsFiles: HealthTls,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: tlsFiles.ca ? readFileSync(tlsFiles.ca) : undefined,
        cert: tlsFiles.cert ? readFileSync(tlsFiles.cert) : undefined,
        key: tlsFiles.key ? readFileSync(tlsFiles.key) : undefined,
        rejectUnauthorized: !tlsFiles.insecure,
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** True once GET <clientURL>/health answers {"health":"true"} (over TLS with `tlsFiles` for https). */
export async function isHealthy(clientURL: string, tlsFiles?: HealthTls): Promise<boolean> {
  if (clientURL.startsWith('https:')) {
    try {
      const r = await httpsGet(`${clientURL}/health`, tlsFiles ?? {}, 1000);
      const body = JSON.parse(r.body) as { health?: unknown };
      return r.status === 200 && (body.health === 'true' || body.health === true);
    } catch {
      return false;
    }
  }
  try {
    const res = await fetch(`${clientURL}/health`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { health?: unknown };
    return body.health === 'true' || body.health === true;
  } catch {
    return false;
  }
}

class RunningMember implements Member {
  readonly endpoint: string;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<void> = Promise.resolve();
  private out = '';
  private readonly unregister: () => void;
  private cleaned = false;

  constructor(
    readonly kind: MemberKind,
    readonly name: string,
    readonly clientURL: string,
    readonly peerURL: string,
    private readonly dir: TempDir,
    readonly args: readonly string[],
    private readonly env: Record<string, string>,
    private readonly startTimeoutMs: number,
    private readonly healthTls?: HealthTls,
  ) {
    this.endpoint = clientURL.replace(/^https?:\/\//, '');
    this.unregister = onProcessExit(() => this.child?.kill('SIGKILL'));
  }

  get dataDir(): string {
    return `${this.dir.path}/data`;
  }

  pid(): number | undefined {
    return this.child?.pid;
  }

  logs(): string {
    return this.out;
  }

  private append(chunk: Buffer | string): void {
    this.out += chunk.toString();
    if (this.out.length > LOG_KEEP_BYTES) this.out = this.out.slice(this.out.length - LOG_KEEP_BYTES);
  }

  async start(): Promise<void> {
    const { cmd, pre } = commandFor(this.kind);
    const child = spawn(cmd, [...pre, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    this.child = child;
    let exited: string | undefined;
    this.exitPromise = new Promise((res) => {
      child.once('exit', (code, signal) => {
        exited = `exited with ${signal ?? `code ${code}`}`;
        this.append(`\n[harness] ${this.kind} ${this.name} ${exited}\n`);
        if (this.child === child) this.child = undefined;
        res();
      });
      child.once('error', (err) => {
        exited = `failed to spawn: ${err.message}`;
        this.append(`\n[harness] ${exited}\n`);
        if (this.child === child) this.child = undefined;
        res();
      });
    });
    child.stdout?.on('data', (c: Buffer) => this.append(c));
    child.stderr?.on('data', (c: Buffer) => this.append(c));
    try {
      await waitFor(
        async () =>
          exited !== undefined ? 'exited' : (await isHealthy(this.clientURL, this.healthTls)) && 'up',
        {
          timeoutMs: this.startTimeoutMs,
          intervalMs: 50,
          what: `${this.kind} ${this.name} /health on ${this.clientURL}`,
        },
      ).then((state) => {
        if (state === 'exited') throw new Error(`${this.kind} ${this.name} ${exited} before it was healthy`);
      });
    } catch (e) {
      await this.kill('SIGKILL');
      throw new Error(`${(e as Error).message}\n--- ${this.kind} ${this.name} output ---\n${tail(this.out)}`);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill(signal);
    await this.exitPromise;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exitPromise;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await this.stop();
    this.unregister();
    this.dir.remove();
  }
}

/** The last `n` characters of a log, for error messages. */
export function tail(s: string, n = 8000): string {
  return s.length <= n ? s : `...${s.slice(s.length - n)}`;
}

/**
 * Starts a single-member cluster of the given kind with etcd's flags
 * (--name --data-dir --listen-client-urls --advertise-client-urls --listen-peer-urls
 * --initial-advertise-peer-urls --initial-cluster, then `extraFlags`) and waits for /health.
 * On failure to become healthy the process is killed and the error carries its output.
 */
export async function startMember(kind: MemberKind, opts: MemberOptions = {}): Promise<Member> {
  // freePort() releases the port before the member binds it, so another process may take it in
  // between; such a start is retried on fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(kind, opts);
    } catch (e) {
      const inUse = /address already in use|EADDRINUSE/.test((e as Error).message);
      if (!inUse || attempt >= PORT_RETRIES) throw e;
    }
  }
}

/** How many times `startMember` tries fresh ports when the ones it picked were taken meanwhile. */
export const PORT_RETRIES = 3;

async function startOnce(kind: MemberKind, opts: MemberOptions): Promise<Member> {
  const name = opts.name ?? 'm1';
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientURL = `${opts.clientTls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const peerURL = `${opts.peerTls ? 'https' : 'http'}://127.0.0.1:${peerPort}`;
  const dir = tempDir(`tsetcd-${kind}-`);
  const args = [
    '--name',
    name,
    '--data-dir',
    `${dir.path}/data`,
    '--listen-client-urls',
    [clientURL, ...(opts.extraListenClientUrls ?? [])].join(','),
    '--advertise-client-urls',
    clientURL,
    '--listen-peer-urls',
    peerURL,
    '--initial-advertise-peer-urls',
    peerURL,
    '--initial-cluster',
    `${name}=${peerURL}`,
    ...(opts.extraFlags ?? []),
  ];
  const m = new RunningMember(
    kind,
    name,
    clientURL,
    peerURL,
    dir,
    args,
    opts.env ?? {},
    opts.startTimeoutMs ?? START_TIMEOUT_MS,
    opts.clientTls,
  );
  opts.t?.after(() => m.cleanup());
  try {
    await m.start();
  } catch (e) {
    await m.cleanup();
    throw e;
  }
  return m;
}
