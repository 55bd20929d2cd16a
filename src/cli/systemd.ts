/**
 * `tsetcd systemd`: seed 002's systemd unit, one per member, from a cluster description — the
 * seed's `etcd.service.template` filled as its `sed` loop fills it (##NODE_NAME##, ##NODE_IP##,
 * ${ETCD_DATA_DIR}, ${ETCD_WAL_DIR}, ${ETCD_NODES}), with ExecStart pointing at tsetcd. The unit text
 * is the seed's, line for line: Type=notify (tsetcd sends READY=1 once joined, see sd-notify.ts),
 * https client and peer URLs on the node IP and 127.0.0.1, mutual TLS, the seed's tuning flags.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/** One member: its name and the IP its client (2379) and peer (2380) URLs use. */
export interface UnitNode {
  name: string;
  ip: string;
}

/** What the seed's environment.sh and certificate paths say; every field has the seed's default. */
export interface UnitSettings {
  /** Absolute path of the tsetcd executable (the seed's /opt/k8s/bin/etcd). */
  bin: string;
  dataDir: string;
  walDir: string;
  certFile: string;
  keyFile: string;
  trustedCaFile: string;
  clusterToken: string;
}

/** Seed 002's values (environment.sh of the guide it follows, and its certificate paths). */
export const SEED_SETTINGS: UnitSettings = {
  bin: '/opt/k8s/bin/tsetcd',
  dataDir: '/data/k8s/etcd/data',
  walDir: '/data/k8s/etcd/wal',
  certFile: '/etc/etcd/cert/etcd.pem',
  keyFile: '/etc/etcd/cert/etcd-key.pem',
  trustedCaFile: '/etc/kubernetes/cert/ca.pem',
  clusterToken: 'etcd-cluster-0',
};

/** A bad cluster description; the CLI prints it and exits 1. */
export class UnitError extends Error {}

/** `--initial-cluster` of the seed: name=https://IP:2380 for every member, in the given order. */
export function etcdNodes(nodes: readonly UnitNode[]): string {
  return nodes.map((n) => `${n.name}=https://${urlHost(n.ip)}:2380`).join(',');
}

function urlHost(ip: string): string {
  return isIP(ip) === 6 ? `[${ip}]` : ip;
}

/** Values that go into a unit unquoted must not break its syntax or the command line. */
function checkWord(v: string, what: string): void {
  if (v === '' || /[\s"'\\$%;`]/.test(v))
    throw new UnitError(`${what}: "${v}" is empty or has spaces or quotes`);
}

/** Checks a cluster description: names unique and safe, IPs valid and unique, paths absolute. */
export function checkNodes(nodes: readonly UnitNode[], s: UnitSettings): void {
  if (nodes.length === 0) throw new UnitError('no members: --nodes name=IP,...');
  const seen = new Set<string>();
  for (const n of nodes) {
    checkWord(n.name, 'member name');
    if (!/^[A-Za-z0-9._-]+$/.test(n.name))
      throw new UnitError(`member name "${n.name}": use letters, digits, . _ -`);
    if (isIP(n.ip) === 0) throw new UnitError(`member ${n.name}: "${n.ip}" is not an IP address`);
    for (const k of [n.name, n.ip]) {
      if (seen.has(k)) throw new UnitError(`"${k}" appears twice`);
      seen.add(k);
    }
  }
  for (const [k, v] of Object.entries(s)) {
    checkWord(v, k);
    if (k !== 'clusterToken' && !v.startsWith('/'))
      throw new UnitError(`${k}: "${v}" must be an absolute path`);
  }
}

/** The seed's unit for `node` of `nodes`: the template with its variables filled. */
export function renderUnit(node: UnitNode, nodes: readonly UnitNode[], s: UnitSettings): string {
  const ip = urlHost(node.ip);
  return `[Unit]
Description=Etcd Server
After=network.target
After=network-online.target
Wants=network-online.target
Documentation=https://github.com/coreos

[Service]
Type=notify
WorkingDirectory=${s.dataDir}
ExecStart=${s.bin} \\
  --data-dir=${s.dataDir} \\
  --wal-dir=${s.walDir} \\
  --name=${node.name} \\
  --cert-file=${s.certFile} \\
  --key-file=${s.keyFile} \\
  --trusted-ca-file=${s.trustedCaFile} \\
  --peer-cert-file=${s.certFile} \\
  --peer-key-file=${s.keyFile} \\
  --peer-trusted-ca-file=${s.trustedCaFile} \\
  --peer-client-cert-auth \\
  --client-cert-auth \\
  --listen-peer-urls=https://${ip}:2380 \\
  --initial-advertise-peer-urls=https://${ip}:2380 \\
  --listen-client-urls=https://${ip}:2379,https://127.0.0.1:2379 \\
  --advertise-client-urls=https://${ip}:2379 \\
  --initial-cluster-token=${s.clusterToken} \\
  --initial-cluster=${etcdNodes(nodes)} \\
  --initial-cluster-state=new \\
  --auto-compaction-mode=periodic \\
  --auto-compaction-retention=1 \\
  --max-request-bytes=33554432 \\
  --quota-backend-bytes=6442450944 \\
  --heartbeat-interval=250 \\
  --election-timeout=2000
Restart=on-failure
RestartSec=5
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

/** Parses `k8s-01=172.31.39.151,k8s-02=172.31.32.72`. */
export function parseNodes(s: string): UnitNode[] {
  return s
    .split(',')
    .filter((p) => p.trim() !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      if (eq <= 0) throw new UnitError(`--nodes: "${p}" is not name=IP`);
      return { name: p.slice(0, eq).trim(), ip: p.slice(eq + 1).trim() };
    });
}

export const SYSTEMD_HELP = `Usage:
  tsetcd systemd --nodes NAME=IP,NAME=IP,... [flags]

Writes seed 002's systemd unit for every member, as its template and sed loop do:
etcd-<IP>.service in --out-dir, to be copied to /etc/systemd/system/etcd.service on that host.
Type=notify: tsetcd tells systemd READY=1 once it has joined the cluster and serves clients.

Flags (defaults are the seed's):
  --nodes LIST            members, e.g. k8s-01=172.31.39.151,k8s-02=172.31.32.72
  --bin PATH              tsetcd executable (${SEED_SETTINGS.bin})
  --data-dir DIR          ETCD_DATA_DIR, also WorkingDirectory (${SEED_SETTINGS.dataDir})
  --wal-dir DIR           ETCD_WAL_DIR (${SEED_SETTINGS.walDir})
  --cert-file PATH        server and peer certificate (${SEED_SETTINGS.certFile})
  --key-file PATH         its key (${SEED_SETTINGS.keyFile})
  --trusted-ca-file PATH  CA for clients and peers (${SEED_SETTINGS.trustedCaFile})
  --initial-cluster-token TOKEN (${SEED_SETTINGS.clusterToken})
  --out-dir DIR           where to write (.)
  --help                  this text
`;

const FLAG_TO_SETTING: Record<string, keyof UnitSettings> = {
  bin: 'bin',
  'data-dir': 'dataDir',
  'wal-dir': 'walDir',
  'cert-file': 'certFile',
  'key-file': 'keyFile',
  'trusted-ca-file': 'trustedCaFile',
  'initial-cluster-token': 'clusterToken',
};

/** Runs `tsetcd systemd ...`; returns the exit code (0 ok, 1 bad description, 2 usage). */
export function runSystemdCommand(argv: readonly string[]): number {
  const s: UnitSettings = { ...SEED_SETTINGS };
  let nodesText = '';
  let outDir = '.';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (name === 'help' || name === 'h') {
      process.stdout.write(SYSTEMD_HELP);
      return 0;
    }
    const value = eq < 0 ? argv[++i] : body.slice(eq + 1);
    if (
      !a.startsWith('-') ||
      value === undefined ||
      !(name in FLAG_TO_SETTING || name === 'nodes' || name === 'out-dir')
    ) {
      process.stderr.write(`tsetcd systemd: bad argument "${a}"\n${SYSTEMD_HELP}`);
      return 2;
    }
    if (name === 'nodes') nodesText = value;
    else if (name === 'out-dir') outDir = value;
    else s[FLAG_TO_SETTING[name] as keyof UnitSettings] = value;
  }
  try {
    const nodes = parseNodes(nodesText);
    checkNodes(nodes, s);
    mkdirSync(outDir, { recursive: true });
    for (const n of nodes) {
      const path = join(outDir, `etcd-${n.ip}.service`);
      writeFileSync(path, renderUnit(n, nodes, s));
      process.stdout.write(`wrote ${path} (${n.name})\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UnitError) {
      process.stderr.write(`tsetcd systemd: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
