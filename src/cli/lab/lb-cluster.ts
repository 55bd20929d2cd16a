/**
 * The members `tsetcd lab lb` starts, and what it does to them mid-run (kill, restart, add, remove,
 * slow down). Each member listens on three kinds of client address:
 *
 *   workload  127.0.0.1:Pi         the seed's layout (12379/22379/32379 with --seed-ports): the one
 *                                  address it advertises, so MemberList (the client's membership
 *                                  mode) hands out exactly these
 *   dns       127.0.0.(i+2):D      one port D for all, one loopback IP each: what the lab's DNS
 *                                  server answers for the dns:/// mode (an A record carries no port)
 *   control   127.0.0.1:Ci         the lab's own traffic (/metrics, /health, MemberList, MemberAdd),
 *                                  never in the packet capture nor in any client's endpoints
 *
 * so the lab's control requests are never counted as workload and a member added mid-run can be
 * polled without touching the captured ports. Every 127.0.0.0/8 address is on `lo` on Linux: no
 * root needed. Processes are stopped by the pids held here only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client, isEtcdError } from '../../client/index.js';
import { LabError } from './net.js';

/** How long a member may take to answer /health after it is spawned. */
export const MEMBER_START_TIMEOUT_MS = 30_000;
/** How long a stopping member may take after SIGTERM before SIGKILL. */
export const MEMBER_STOP_TIMEOUT_MS = 5_000;
/** How long MemberAdd is tried while the cluster answers "unhealthy cluster". */
export const MEMBER_ADD_TIMEOUT_MS = 15_000;
/** Deadline of one control request (MemberList, MemberAdd, /metrics). */
export const CONTROL_TIMEOUT_MS = 5_000;
/**
 * Ports drawn from here: above the kernel's ephemeral range (32768-60999 on Linux), so a restarted
 * member never finds a client socket on its port, and away from test/helpers' 10000-19999 and etcd's
 * e2e suite (20000 and up).
 */
const PORT_MIN = 61_000;
const PORT_MAX = 65_000;
const PORT_TRIES = 100;
const SEED_PORTS = new Set([12379, 12380, 22379, 22380, 32379, 32380]);

/** One member the lab started. */
export interface LabMember {
  /** node1, node2, ... */
  name: string;
  /** Index in the cluster's member list (0-based). */
  index: number;
  /** host:port clients use (advertised). */
  endpoint: string;
  /** host:port of its dns:/// listener (a loopback IP of its own, the shared port). */
  dnsAddress: string;
  /** host:port the lab uses for /metrics, /health and Cluster calls. */
  control: string;
  peerPort: number;
  dataDir: string;
  /** The running process; undefined while killed. */
  proc: ChildProcess | undefined;
  /** Raft member id once known (MemberList or MemberAdd), else 0n. */
  id: bigint;
  /** The last LOG_TAIL_BYTES of its stderr (for errors). */
  logTail: string;
}

/** How much of a member's stderr is kept. */
const LOG_TAIL_BYTES = 2000;

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen(port, host, () => srv.close(() => res(true)));
  });
}

const handedOut = new Set<number>();

/** A TCP port free on every host in `hosts`, never handed out twice by this process. */
export async function freePortOn(hosts: readonly string[]): Promise<number> {
  for (let i = 0; i < PORT_TRIES; i++) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN));
    if (SEED_PORTS.has(port) || handedOut.has(port)) continue;
    let ok = true;
    for (const h of hosts) if (!(await canBind(port, h))) ok = false;
    if (ok) {
      handedOut.add(port);
      return port;
    }
  }
  throw new LabError(`no free port on ${hosts.join(', ')}`);
}

async function get(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS) });
  return r.text();
}

/** Whether `m`'s process is running (not exited, not killed by a signal). */
export function isRunning(m: LabMember): boolean {
  return m.proc !== undefined && m.proc.exitCode === null && m.proc.signalCode === null;
}

/** Options of `LabCluster.start`. */
export interface LabClusterOptions {
  binary: 'tsetcd' | 'etcd';
  /** The seed's client/peer ports (12379/12380, ...) instead of free ones. */
  seedPorts: boolean;
  /** Repository root (for bin/tsetcd.js). */
  root: string;
  /** Where the data dirs go (removed by the caller). */
  dir: string;
}

/** The loopback IP of member `i`'s dns:/// listener. */
export function dnsIp(i: number): string {
  return `127.0.0.${i + 2}`;
}

/** A cluster the lab started on this machine. */
export class LabCluster {
  readonly members: LabMember[] = [];
  /** The port every dns:/// listener shares. */
  dnsPort = 0;
  private readonly stopped = new Set<LabMember>();

  private constructor(private readonly opts: LabClusterOptions) {}

  /** Starts three members with seed 000's flags; resolves when all answer /health. */
  static async start(opts: LabClusterOptions): Promise<LabCluster> {
    const c = new LabCluster(opts);
    c.dnsPort = await freePortOn([0, 1, 2, 3, 4, 5].map(dnsIp));
    const seeds = [
      [12379, 12380],
      [22379, 22380],
      [32379, 32380],
    ];
    for (const i of [0, 1, 2]) {
      const [client, peer] = opts.seedPorts
        ? seeds[i]!
        : [await freePortOn(['127.0.0.1']), await freePortOn(['127.0.0.1'])];
      c.members.push(await c.describe(i, client!, peer!));
    }
    const initial = c.members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
    for (const m of c.members) c.spawn(m, initial, 'new');
    try {
      for (const m of c.members) await c.waitHealthy(m);
      await c.learnIds();
    } catch (e) {
      await c.stopAll();
      throw e;
    }
    return c;
  }

  private async describe(i: number, client: number, peer: number): Promise<LabMember> {
    return {
      name: `node${i + 1}`,
      index: i,
      endpoint: `127.0.0.1:${client}`,
      dnsAddress: `${dnsIp(i)}:${this.dnsPort}`,
      control: `127.0.0.1:${await freePortOn(['127.0.0.1'])}`,
      peerPort: peer,
      dataDir: join(this.opts.dir, `data${i + 1}.etcd`),
      proc: undefined,
      id: 0n,
      logTail: '',
    };
  }

  private spawn(m: LabMember, initialCluster: string, state: 'new' | 'existing'): void {
    const flags = [
      `--data-dir=${m.dataDir}`,
      `--name=${m.name}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--advertise-client-urls=http://${m.endpoint}`,
      `--listen-client-urls=http://${m.endpoint},http://${m.dnsAddress},http://${m.control}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      '--initial-cluster-token=token-01',
    ];
    const [cmd, pre] =
      this.opts.binary === 'etcd'
        ? ['etcd', []]
        : [process.execPath, [join(this.opts.root, 'bin', 'tsetcd.js')]];
    const proc = spawn(cmd, [...pre, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
    m.proc = proc;
    m.logTail = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => {
      m.logTail = (m.logTail + d).slice(-LOG_TAIL_BYTES);
    });
    this.stopped.delete(m);
  }

  /** Resolves when `m` answers /health with "true" on its control address. */
  async waitHealthy(m: LabMember): Promise<void> {
    const deadline = Date.now() + MEMBER_START_TIMEOUT_MS;
    for (;;) {
      if (!isRunning(m)) throw new LabError(`${m.name} exited (${m.proc?.exitCode}) while starting`);
      try {
        if ((await get(`http://${m.control}/health`)).includes('"true"')) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline)
        throw new LabError(`${m.name} not healthy within ${MEMBER_START_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The members that are running (not killed). */
  live(): LabMember[] {
    return this.members.filter(isRunning);
  }

  /** A client for the lab's own calls, on the live members' control addresses (but `except`). */
  private controlClient(except?: LabMember): Client {
    return new Client({
      endpoints: this.live()
        .filter((m) => m !== except)
        .map((m) => m.control),
      callTimeoutMs: CONTROL_TIMEOUT_MS,
    });
  }

  /** Fills in member ids from MemberList (matched by advertised client URL). */
  async learnIds(): Promise<void> {
    const c = this.controlClient();
    try {
      const r = await c.cluster.list();
      for (const mem of r.members) {
        const urls = mem.clientURLs.map((u) => u.replace(/^https?:\/\//, ''));
        const m = this.members.find((x) => urls.includes(x.endpoint));
        if (m) m.id = mem.ID;
      }
    } finally {
      c.close();
    }
  }

  /** The /metrics text of a live member (from its control address). */
  metrics(m: LabMember): Promise<string> {
    return get(`http://${m.control}/metrics`);
  }

  /** SIGKILLs `m` and waits for its exit. */
  async kill(m: LabMember): Promise<void> {
    const p = m.proc;
    if (!p || !isRunning(m)) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed member again on its data dir and addresses; resolves when healthy. */
  async restart(m: LabMember): Promise<void> {
    this.spawn(m, this.initialCluster(), 'existing');
    await this.waitHealthy(m);
  }

  private initialCluster(): string {
    return this.members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  }

  /** Describes the next member to add (its ports chosen now, so a capture can include them). */
  async describeNext(): Promise<LabMember> {
    const i = this.members.length;
    if (i + 2 > 250) throw new LabError('too many members');
    return this.describe(i, await freePortOn(['127.0.0.1']), await freePortOn(['127.0.0.1']));
  }

  /**
   * Adds `m` (from describeNext) as etcd's runtime reconfiguration guide says: MemberAdd with its
   * peer URL, then start it with --initial-cluster-state existing. Resolves when it is healthy.
   */
  async add(m: LabMember): Promise<void> {
    const c = this.controlClient();
    const deadline = Date.now() + MEMBER_ADD_TIMEOUT_MS;
    try {
      for (;;) {
        try {
          const r = await c.cluster.add([`http://127.0.0.1:${m.peerPort}`]);
          m.id = r.member?.ID ?? 0n;
          break;
        } catch (e) {
          // etcd's strict reconfiguration check refuses a voter until every member has been
          // connected for 5 s (etcdserver: unhealthy cluster); its guide says to try again.
          if (!isEtcdError(e, 'unhealthy') || Date.now() > deadline)
            throw new LabError(`MemberAdd ${m.name}: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      c.close();
    }
    this.members.push(m);
    this.spawn(m, this.initialCluster(), 'existing');
    await this.waitHealthy(m);
  }

  /** Removes an added member (MemberRemove, stop, data dir deleted): the cluster is as before. */
  async remove(m: LabMember): Promise<void> {
    // Not through `m` itself: a member applying its own removal stops before it answers.
    const c = this.controlClient(m);
    try {
      await c.cluster.remove(m.id);
    } finally {
      c.close();
    }
    await this.stop(m);
    rmSync(m.dataDir, { recursive: true, force: true });
    this.members.splice(this.members.indexOf(m), 1);
  }

  /** SIGTERM, then SIGKILL after MEMBER_STOP_TIMEOUT_MS; SIGCONT first in case it was stopped. */
  async stop(m: LabMember): Promise<void> {
    const p = m.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null || this.stopped.has(m)) return;
    this.stopped.add(m);
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT');
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), MEMBER_STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(t);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((m) => this.stop(m)));
  }

  /** SIGKILLs every process at once (signal handlers: no waiting). */
  killAllNow(): void {
    for (const m of this.members) if (isRunning(m)) m.proc!.kill('SIGKILL');
  }
}

/**
 * Makes a member slow the way a CPU limit does: CFS bandwidth control lets a container run for its
 * quota and then stops it until the period ends. Here the member gets SIGSTOP for `stoppedMs` of
 * every `periodMs` and SIGCONT for the rest — no root, no change to `lo` (which every other process
 * on the machine shares, so a tc netem qdisc there would slow them all), the same for etcd and
 * tsetcd. A request that reaches it while it is stopped waits until it runs again. `stop()` ends the
 * bursts and leaves the member running.
 */
export function startSlowBursts(
  proc: ChildProcess,
  stoppedMs: number,
  periodMs: number,
): { stop: () => void; bursts: () => number } {
  let timer: NodeJS.Timeout | undefined;
  let running = true;
  let bursts = 0;
  const pause = () => {
    if (!running || proc.exitCode !== null) return;
    proc.kill('SIGSTOP');
    bursts++;
    timer = setTimeout(resume, stoppedMs);
  };
  const resume = () => {
    proc.kill('SIGCONT');
    if (running) timer = setTimeout(pause, periodMs - stoppedMs);
  };
  pause();
  return {
    stop: () => {
      running = false;
      clearTimeout(timer);
      if (proc.exitCode === null) proc.kill('SIGCONT');
    },
    bursts: () => bursts,
  };
}
