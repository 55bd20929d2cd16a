/**
 * A cluster of real `node bin/tsetcd.js` member processes for the Jepsen-style suite: free ports,
 * a temp dir, and per member a failpoint control address (TSETCD_FAILPOINT_ADDR, see
 * src/server/fault-control.ts) through which the nemesis partitions links and fails the WAL's disk.
 * Process faults (SIGKILL + restart, SIGSTOP/SIGCONT) act on the child processes directly.
 * Every process is killed and the directory removed by `destroy()`, and at the latest at exit.
 */
import {
  kill as killProc,
  launch,
  type Proc,
  planCluster,
  running,
  waitHealthy,
} from '../helpers/cluster.js';
import { freePort, onProcessExit, tempDir } from '../helpers/index.js';

/** A member process (test/helpers/cluster.ts) with its failpoint address and nemesis state. */
export interface ClusterMember extends Proc {
  index: number;
  /** host:port of the failpoint control server. */
  failpoint: string;
  /** Raft member id (decimal string), known after `start`. */
  id: string;
  /** Bumped at every (re)start. */
  incarnation: number;
  paused: boolean;
}

/** Failpoint requests must not hang on a paused member. */
const FAILPOINT_TIMEOUT_MS = 3_000;
const START_TIMEOUT_MS = 60_000;

/** Counters summed over every member process of the run (scraped before each kill and at the end). */
export const SCRAPED_COUNTERS = [
  'etcd_server_leader_changes_seen_total',
  'etcd_network_snapshot_send_success',
  'etcd_network_snapshot_receive_success',
] as const;

export class Cluster {
  readonly members: ClusterMember[] = [];
  /** Sums of SCRAPED_COUNTERS over processes that have been scraped (see `scrape`). */
  readonly counters = new Map<string, number>();
  private readonly dir = tempDir('tsetcd-jepsen-');
  private readonly unregister: () => void;

  private constructor() {
    // A paused (SIGSTOPped) member must be continued to die; the launcher only SIGKILLs.
    this.unregister = onProcessExit(() => {
      for (const m of this.members) if (m.paused) m.child?.kill('SIGCONT');
    });
  }

  static async start(
    n: number,
    extraFlags: string[] = [],
    extraEnv: Record<string, string> = {},
  ): Promise<Cluster> {
    const c = new Cluster();
    const failpoints = await Promise.all(
      Array.from({ length: n }, async () => `127.0.0.1:${await freePort()}`),
    );
    const procs = await planCluster(c.dir.path, n, {
      names: Array.from({ length: n }, (_, i) => `j${i + 1}`),
      token: 'jepsen',
      extraFlags: ['--log-level', 'warn', ...extraFlags],
      env: (i) => ({ ...extraEnv, TSETCD_FAILPOINT_ADDR: failpoints[i]! }),
    });
    for (const [index, p] of procs.entries()) {
      c.members.push(
        Object.assign(p, { index, failpoint: failpoints[index]!, id: '', incarnation: 0, paused: false }),
      );
    }
    try {
      for (const m of c.members) c.launch(m);
      for (const m of c.members) await c.waitHealthy(m);
    } catch (e) {
      await c.destroy();
      throw e;
    }
    return c;
  }

  private launch(m: ClusterMember): void {
    launch(m);
    m.paused = false;
    m.incarnation++;
  }

  async waitHealthy(m: ClusterMember, timeoutMs = START_TIMEOUT_MS): Promise<void> {
    await waitHealthy(m, timeoutMs);
  }

  /** Whether the process is running (not killed, not exited). */
  alive(m: ClusterMember): boolean {
    return running(m);
  }

  /**
   * Adds a live member's counters to `counters` (its process is about to go away). Best effort: a
   * member that does not answer within a second is skipped, so the sums are lower bounds.
   */
  async scrape(m: ClusterMember): Promise<void> {
    if (!this.alive(m) || m.paused) return;
    try {
      const r = await fetch(`http://${m.client}/metrics`, { signal: AbortSignal.timeout(1000) });
      const text = await r.text();
      for (const name of SCRAPED_COUNTERS) {
        const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
        const v = line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
        if (Number.isFinite(v)) this.counters.set(name, (this.counters.get(name) ?? 0) + v);
      }
    } catch {
      // not answering: its counts are lost
    }
  }

  async kill(m: ClusterMember): Promise<void> {
    if (!running(m)) return;
    await this.scrape(m);
    await killProc(m);
    m.paused = false;
  }

  /** Starts a killed member again on the same data dir; does not wait for it to be healthy. */
  restart(m: ClusterMember): void {
    if (this.alive(m)) throw new Error(`${m.name} is still running`);
    this.launch(m);
  }

  pause(m: ClusterMember): void {
    if (!this.alive(m) || m.paused) return;
    m.child!.kill('SIGSTOP');
    m.paused = true;
  }

  resume(m: ClusterMember): void {
    if (!m.paused) return;
    m.child?.kill('SIGCONT');
    m.paused = false;
  }

  /** POSTs to a member's failpoint server; resolves with the JSON answer, rejects on failure. */
  async failpoint(m: ClusterMember, path: string, body: unknown = {}): Promise<unknown> {
    const r = await fetch(`http://${m.failpoint}${path}`, {
      method: path === '/status' ? 'GET' : 'POST',
      body: path === '/status' ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(FAILPOINT_TIMEOUT_MS),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`failpoint ${path} on ${m.name}: ${r.status} ${text}`);
    return JSON.parse(text);
  }

  /** Sends the same failpoint request to every live, unpaused member; failures are returned, not thrown. */
  async failpointAll(path: string, body: unknown = {}): Promise<string[]> {
    const errors: string[] = [];
    await Promise.all(
      this.members
        .filter((m) => this.alive(m) && !m.paused)
        .map((m) =>
          this.failpoint(m, path, body).catch((e: Error) => errors.push(`${m.name}: ${e.message}`)),
        ),
    );
    return errors;
  }

  async destroy(): Promise<void> {
    for (const m of this.members) this.resume(m);
    await Promise.all(this.members.map((m) => this.kill(m)));
    this.unregister();
    this.dir.remove();
  }
}
