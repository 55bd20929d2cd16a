/**
 * Small test utilities: free ports, temporary directories that are always removed, polling with a
 * deadline, the repo root, and one process-wide cleanup registry so nothing outlives the test file.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Default deadline of `waitFor`. */
export const WAIT_TIMEOUT_MS = 10_000;
/** Default polling interval of `waitFor`. */
export const WAIT_INTERVAL_MS = 25;

/** A free TCP port on 127.0.0.1 (checked by binding it), never the same one twice in a process. */
export async function freePort(): Promise<number> {
  // Outside the kernel's ephemeral range (32768-60999 here), where every outgoing connection takes
  // its local port: a member restarted on its old port could otherwise find a client socket (or a
  // port another test was just given) on it (EADDRINUSE). Below 20000, where etcd's e2e suite binds.
  for (let i = 0; i < FREE_PORT_TRIES; i++) {
    const port = FREE_PORT_MIN + Math.floor(Math.random() * (FREE_PORT_MAX - FREE_PORT_MIN));
    if (SEED_PORTS.has(port) || handedOut.has(port)) continue;
    if (reserveAcrossProcesses(port) && (await canBind(port))) {
      handedOut.add(port);
      return port;
    }
  }
  return bindAny();
}

/** The range freePort draws from (see there), and the seed's fixed ports it leaves alone. */
const FREE_PORT_MIN = 10_000;
const FREE_PORT_MAX = 20_000;
const FREE_PORT_TRIES = 50;
const SEED_PORTS = new Set([12379, 12380, 22379, 22380, 32379, 32380]);
/** Ports this process handed out already (never twice, even once their first user closed them). */
const handedOut = new Set<number>();

/**
 * Test files run as concurrent processes, and a port free when one checks it may be handed to
 * another process before either binds it (seen: two differential tests talking to one etcd). A port
 * is therefore also claimed with an exclusive file named after it, removed when this process exits;
 * a file whose owner process is gone is stale and taken over.
 */
const PORT_CLAIMS_DIR = join(tmpdir(), 'tsetcd-test-port-claims');
const claimed: string[] = [];

function reserveAcrossProcesses(port: number): boolean {
  mkdirSync(PORT_CLAIMS_DIR, { recursive: true });
  const file = join(PORT_CLAIMS_DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      if (claimed.length === 0)
        onProcessExit(() => {
          for (const f of claimed) rmSync(f, { force: true });
          try {
            rmdirSync(PORT_CLAIMS_DIR); // only when no other process holds a claim
          } catch {
            // not empty: another test process still runs
          }
        });
      claimed.push(file);
      return true;
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(file, 'utf8'));
      } catch {
        continue; // removed meanwhile: try again
      }
      if (owner > 0 && isAlive(owner)) return false;
      try {
        unlinkSync(file);
      } catch {
        // someone else took it over first
      }
    }
  }
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

/** A port the kernel picks (the fallback). */
function bindAny(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        rej(new Error('freePort: no TCP address'));
        return;
      }
      srv.close(() => res(addr.port));
    });
  });
}

type CleanupFn = () => void;
const cleanups = new Set<CleanupFn>();
let hooked = false;

/**
 * Registers a synchronous cleanup that runs when the process exits (normally, on an uncaught error,
 * or on SIGINT/SIGTERM) unless it was unregistered first. Returns the unregister function.
 */
export function onProcessExit(fn: CleanupFn): () => void {
  if (!hooked) {
    hooked = true;
    const runAll = () => {
      for (const f of [...cleanups]) {
        try {
          f();
        } catch {
          // best effort: the process is going away
        }
      }
      cleanups.clear();
    };
    process.on('exit', runAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        runAll();
        process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
      });
    }
  }
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** A fresh directory under os.tmpdir(). */
export interface TempDir {
  readonly path: string;
  /** Removes the directory and everything in it (idempotent). */
  remove(): void;
}

/** Creates a fresh empty directory; it is removed by `remove()` or, at the latest, at process exit. */
export function tempDir(prefix = 'tsetcd-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  let unregister: () => void = () => {};
  const remove = () => {
    unregister();
    rmSync(path, { recursive: true, force: true });
  };
  unregister = onProcessExit(() => rmSync(path, { recursive: true, force: true }));
  return { path, remove };
}

/**
 * A fresh empty directory's path, removed after the test `t` (or, at the latest, at process exit):
 * the temp dir of one unit test.
 */
export function tempDirFor(t: { after(fn: () => void): void }, prefix = 'tsetcd-test-'): string {
  const dir = tempDir(prefix);
  t.after(() => dir.remove());
  return dir.path;
}

/** Collects what `child` writes to stdout and stderr (as piped), interleaved; the getter reads it so far. */
export function collectOutput(child: ChildProcess): () => string {
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

/** SIGKILLs each child still running (by its pid) and resolves when all have exited. */
export function killAndWait(procs: readonly ChildProcess[]): Promise<void> {
  return Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((res) => {
          if (p.exitCode !== null || p.signalCode !== null) return res();
          p.once('exit', () => res());
          p.kill('SIGKILL');
        }),
    ),
  ).then(() => {});
}

/** Options of `waitFor`. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Says what is awaited, for the timeout error. */
  what?: string;
}

/**
 * Polls `fn` until it returns a value other than undefined/false (which is returned) or the deadline
 * passes (then throws, with the last error `fn` threw, if any). Never a bare sleep.
 */
export async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? WAIT_TIMEOUT_MS;
  const intervalMs = opts.intervalMs ?? WAIT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new Error(`waitFor ${opts.what ?? 'condition'} timed out after ${timeoutMs} ms${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The repository root: $TSETCD_ROOT when set (scripts/run-tests.mjs sets it), else found upwards. */
export function repoRoot(): string {
  const env = process.env.TSETCD_ROOT;
  if (env !== undefined && env !== '') return resolve(env);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'tsetcd.js'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repoRoot: no package.json with bin/tsetcd.js above this file');
    dir = up;
  }
}

/** True when a command is on PATH. */
export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Shorthand for a Buffer from a string (protobuf bytes fields). */
export function b(s: string): Buffer {
  return Buffer.from(s);
}
