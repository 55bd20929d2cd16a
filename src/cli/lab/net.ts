/**
 * The lab's network: a Kubernetes node rehearsed with Linux network namespaces.
 *
 *   host (untouched)
 *   ─────────────────────────────────────────────────────────────────────────────
 *   netns <run>-node   br0 10.244.0.1/24, ip_forward, nft table "tsetcd_lab" (kube-proxy:
 *        │             Service VIP -> pod DNAT, per-connection round robin, masquerade), DNS :53
 *        ├── veth ── netns <run>-client       eth0 10.244.0.2   (the user's curl)
 *        ├── veth ── netns <run>-hellogrpc-…  eth0 10.244.0.10+ (one per pod, own hostname)
 *        └── …
 *
 * Everything lives inside namespaces this run creates: the bridge, the veths, the nft table and
 * the addresses all sit in the run's node namespace, so the host's interfaces, routes and tables
 * are never touched, and deleting the namespaces removes the lot. Each pod namespace gets
 * /etc/netns/NAME/{resolv.conf,hosts} (`ip netns exec` mounts them over /etc). A state file in
 * /run/tsetcd-lab/ names what a run created and which process owns it, so a later run removes
 * what a crashed one left (`cleanLeftovers`). Needs root, iproute2, nftables and util-linux.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where runs record what they created. */
export const STATE_DIR = '/run/tsetcd-lab';
/** Prefix of every namespace a lab run creates. */
export const NETNS_PREFIX = 'tsl';
/** The pod network: the node (bridge) address and the prefix length. */
export const NODE_IP = '10.244.0.1';
export const POD_PREFIX_LEN = 24;
/** The first pod address's last octet; the client gets .2. */
export const CLIENT_IP = '10.244.0.2';
export const POD_IP_FIRST = 10;
/** Pods per run (the /24 bounds it). */
export const PODS_MAX = 200;
/** The nft table kube-proxy's rules go in (inside the node namespace). */
export const NFT_TABLE = 'tsetcd_lab';

/** A failed command, with its stderr. */
export class LabError extends Error {}

/** Runs a command synchronously; returns stdout; throws LabError with stderr on failure. */
export function sh(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new LabError(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** What the lab needs from the machine; returns the missing pieces as sentences (empty: all there). */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (network namespaces, veths and nftables need it)');
  for (const [bin, pkg] of [
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
    ['unshare', 'util-linux'],
    ['hostname', 'hostname'],
  ] as const) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      missing.push(`${bin} (apt-get install ${pkg})`);
    }
  }
  return missing;
}

/** The start time of a process (field 22 of /proc/PID/stat), or undefined when it is gone. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** A run's state file: its owner and the namespaces it created. */
interface State {
  pid: number;
  startTime: string;
  netns: string[];
}

/** Kills whatever still runs in `ns` (only the run's own processes can be there), then deletes it. */
function deleteNetns(ns: string): void {
  let pids: string[] = [];
  try {
    pids = sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean);
  } catch {
    // the namespace is already gone
  }
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  try {
    sh('ip', ['netns', 'del', ns]);
  } catch {
    // already gone
  }
  rmSync(join('/etc/netns', ns), { recursive: true, force: true });
}

/**
 * Removes what earlier runs left behind when their owner process is gone (crash, SIGKILL). Runs
 * owned by a live process (another lab running now) are left alone. Returns the namespaces removed.
 */
export function cleanLeftovers(): string[] {
  if (!existsSync(STATE_DIR)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(STATE_DIR)) {
    if (!f.endsWith('.json')) continue;
    const path = join(STATE_DIR, f);
    let st: State;
    try {
      st = JSON.parse(readFileSync(path, 'utf8')) as State;
    } catch {
      continue;
    }
    if (startTimeOf(st.pid) === st.startTime) continue; // its owner still runs
    for (const ns of st.netns) {
      deleteNetns(ns);
      removed.push(ns);
    }
    unlinkSync(path);
  }
  return removed;
}

/** How a Service VIP picks the endpoint of a new connection. */
export type DnatMode = 'random' | 'round-robin';

/** One Service as kube-proxy programs it: VIP:port to endpoints:targetPort. */
export interface ServiceRule {
  vip: string;
  port: number;
  targetPort: number;
  endpoints: readonly string[];
}

/**
 * The nft script (for `nft -f -`) that replaces table NFT_TABLE with kube-proxy's rules for
 * `services`: the table is added, deleted and added again in one transaction, so the swap is
 * atomic and works whether or not it existed. A Service without endpoints gets no rule.
 */
export function nftScript(services: readonly ServiceRule[], mode: DnatMode): string {
  const rules = services
    .filter((s) => s.endpoints.length > 0)
    .map((s) => {
      const map = s.endpoints.map((ip, i) => `${i} : ${ip}`).join(', ');
      const gen = mode === 'random' ? 'random' : 'inc';
      return `add rule ip ${NFT_TABLE} prerouting ip daddr ${s.vip} tcp dport ${s.port} dnat to numgen ${gen} mod ${s.endpoints.length} map { ${map} } : ${s.targetPort}`;
    });
  return `${[
    `add table ip ${NFT_TABLE}`,
    `delete table ip ${NFT_TABLE}`,
    `add table ip ${NFT_TABLE}`,
    `add chain ip ${NFT_TABLE} prerouting { type nat hook prerouting priority dstnat; policy accept; }`,
    `add chain ip ${NFT_TABLE} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `add rule ip ${NFT_TABLE} postrouting ct status dnat masquerade`,
    ...rules,
  ].join('\n')}\n`;
}

/** One pod's network: its namespace and address. */
export interface PodNet {
  readonly netns: string;
  readonly ip: string;
}

/** The lab's network for one run. Create with `LabNet.create`; always `destroy()`. */
export class LabNet {
  readonly nodeNs: string;
  private readonly created: string[] = [];
  private nextOctet = POD_IP_FIRST;
  private vethSeq = 0;
  private readonly statePath: string;

  private constructor(readonly runId: string) {
    this.nodeNs = `${NETNS_PREFIX}${runId}-node`;
    this.statePath = join(STATE_DIR, `${runId}.json`);
  }

  /** Creates the node namespace: bridge, forwarding, an empty nft table. Cleans up on failure. */
  static create(runId: string): LabNet {
    if (!/^[a-z0-9]{1,12}$/.test(runId)) throw new LabError(`bad run id ${runId}`);
    const net = new LabNet(runId);
    try {
      net.addNetns(net.nodeNs);
      const n = ['-n', net.nodeNs];
      sh('ip', [...n, 'link', 'set', 'lo', 'up']);
      sh('ip', [...n, 'link', 'add', 'br0', 'type', 'bridge']);
      sh('ip', [...n, 'addr', 'add', `${NODE_IP}/${POD_PREFIX_LEN}`, 'dev', 'br0']);
      sh('ip', [...n, 'link', 'set', 'br0', 'up']);
      sh('ip', ['netns', 'exec', net.nodeNs, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      return net;
    } catch (err) {
      net.destroy();
      throw err;
    }
  }

  private addNetns(ns: string): void {
    this.created.push(ns);
    this.saveState(); // before creating it: a crash right after still leaves a record
    sh('ip', ['netns', 'add', ns]);
  }

  private saveState(): void {
    mkdirSync(STATE_DIR, { recursive: true });
    const st: State = { pid: process.pid, startTime: startTimeOf(process.pid) ?? '', netns: this.created };
    writeFileSync(this.statePath, JSON.stringify(st));
  }

  /**
   * Creates a namespace `<run>-<name>` wired to the bridge with the next free pod address (or `ip`),
   * a default route via the node, and resolv.conf pointing at the node's DNS with Kubernetes'
   * search list. `name` is the pod name ([a-z0-9-]).
   */
  addPod(name: string, ip?: string): PodNet {
    if (!/^[a-z0-9-]{1,40}$/.test(name)) throw new LabError(`bad pod name ${name}`);
    const addr = ip ?? `10.244.0.${this.nextOctet++}`;
    if (this.nextOctet > POD_IP_FIRST + PODS_MAX) throw new LabError(`more than ${PODS_MAX} pods`);
    const ns = `${NETNS_PREFIX}${this.runId}-${name}`;
    mkdirSync(join('/etc/netns', ns), { recursive: true });
    writeFileSync(
      join('/etc/netns', ns, 'resolv.conf'),
      `nameserver ${NODE_IP}\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:1 attempts:2\n`,
    );
    writeFileSync(join('/etc/netns', ns, 'hosts'), `127.0.0.1 localhost\n${addr} ${name}\n`);
    this.addNetns(ns);
    const veth = `v${this.vethSeq++}`;
    sh('ip', ['-n', this.nodeNs, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    sh('ip', ['-n', this.nodeNs, 'link', 'set', veth, 'master', 'br0', 'up']);
    const p = ['-n', ns];
    sh('ip', [...p, 'link', 'set', 'lo', 'up']);
    sh('ip', [...p, 'addr', 'add', `${addr}/${POD_PREFIX_LEN}`, 'dev', 'eth0']);
    sh('ip', [...p, 'link', 'set', 'eth0', 'up']);
    sh('ip', [...p, 'route', 'add', 'default', 'via', NODE_IP]);
    return { netns: ns, ip: addr };
  }

  /**
   * Replaces kube-proxy's rules atomically: for each Service VIP:port, DNAT each new connection to
   * one of its endpoints — `numgen random mod N` as kube-proxy's nftables mode does (its iptables
   * mode: `statistic mode random`), or `numgen inc mod N`, a strict per-connection round robin —
   * and masquerade what was DNAT'ed so replies come back through the node (kube-proxy's
   * masquerade-all; without br_netfilter a reply between pods on one bridge would skip the
   * reverse NAT). Established connections keep their backend: conntrack, not the rule, routes them.
   */
  setServices(services: readonly ServiceRule[], mode: DnatMode = 'random'): void {
    sh('ip', ['netns', 'exec', this.nodeNs, 'nft', '-f', '-'], nftScript(services, mode));
  }

  /** The node namespace's nft ruleset (for reports and tests). */
  ruleset(): string {
    return sh('ip', ['netns', 'exec', this.nodeNs, 'nft', 'list', 'table', 'ip', NFT_TABLE]);
  }

  /** Every namespace this run created, node first. */
  namespaces(): readonly string[] {
    return this.created;
  }

  /** Kills what runs in the run's namespaces, deletes them and their /etc/netns dirs (idempotent). */
  destroy(): void {
    for (const ns of [...this.created].reverse()) deleteNetns(ns);
    this.created.length = 0;
    rmSync(this.statePath, { force: true });
  }
}
