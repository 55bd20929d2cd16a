// etcd 3.4's own end-to-end suite (tests/e2e of Debian's golang-etcd-server-dev) as an acceptance
// harness. The suite starts clusters from a -bin-dir; here that dir holds an `etcd` wrapper that
// runs tsetcd (or, for the baseline, real etcd) and the real `etcdctl`. Each test runs alone with a
// deadline; results go to a TSV and a summary by area is printed.
//
//   node scripts/etcd-e2e.mjs [--against tsetcd|etcd] [--run REGEX] [--skip REGEX]
//                             [--timeout 90s] [--out results.tsv] [--expect-pass]
//
// --expect-pass: exit 1 unless every selected test passes (the bounded subset in `npm test`).
// Needs `go` (golang-go) and the etcd 3.4 sources (golang-etcd-server-dev); builds offline in GOPATH
// mode. The suite uses fixed ports (20000 and up, etcd's choice), so runs take a machine-wide lock.
//
// Cleanup: the suite starts members through a pty in their own session, so killing the test's
// process group would not reach them. The wrappers record their pid in $E2E_PID_FILE before they
// exec; after each test every recorded pid still running that wrapper's binary is killed by pid.
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const ETCD_SRC = '/usr/share/gocode/src/go.etcd.io/etcd';
const E2E_DIR = join(ETCD_SRC, 'tests', 'e2e');
const CERT_DIR = join(ETCD_SRC, 'integration', 'fixtures');
// The built suite (and Go's build cache for it) outlive a clone: building takes ~2 minutes cold.
const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tsetcd-etcd-e2e');
const LOCK = join(tmpdir(), 'tsetcd-etcd-e2e.lock');
/** How long the lock may be held before it counts as stale (a run that died without cleanup). */
const LOCK_STALE_MS = 2 * 3600_000;

function parseArgs(argv) {
  const o = {
    against: 'tsetcd',
    run: '.',
    skip: '',
    timeout: '90s',
    out: '',
    expectPass: false,
    list: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [k, inline] = a.includes('=')
      ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
      : [a, undefined];
    const val = () => inline ?? argv[++i];
    if (k === '--against') o.against = val();
    else if (k === '--run') o.run = val();
    else if (k === '--skip') o.skip = val();
    else if (k === '--timeout') o.timeout = val();
    else if (k === '--out') o.out = val();
    else if (k === '--expect-pass') o.expectPass = true;
    else if (k === '--list') o.list = true;
    else {
      console.error(`etcd-e2e: unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (o.against !== 'tsetcd' && o.against !== 'etcd') {
    console.error('etcd-e2e: --against must be tsetcd or etcd');
    process.exit(2);
  }
  return o;
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** Newest mtime of the Go sources the test binary is built from. */
function sourcesMtime() {
  let newest = 0;
  for (const f of readdirSync(E2E_DIR)) {
    if (f.endsWith('.go')) newest = Math.max(newest, statSync(join(E2E_DIR, f)).mtimeMs);
  }
  return newest;
}

function buildSuite() {
  const bin = join(CACHE, 'e2e.test');
  if (existsSync(bin) && statSync(bin).mtimeMs >= sourcesMtime()) return bin;
  if (!which('go') || !existsSync(E2E_DIR)) {
    console.error(
      'etcd-e2e: needs Go and etcd 3.4 sources: apt-get install golang-go golang-etcd-server-dev (scripts/ensure-test-deps.sh does it as root)',
    );
    process.exit(1);
  }
  mkdirSync(CACHE, { recursive: true });
  console.log(`building etcd's e2e suite (${E2E_DIR}) ...`);
  const r = spawnSync('go', ['test', '-c', '-o', bin, '.'], {
    cwd: E2E_DIR,
    stdio: 'inherit',
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: '/usr/share/gocode',
      GOCACHE: join(CACHE, 'gocache'),
      GOFLAGS: '-mod=mod',
    },
  });
  if (r.status !== 0) {
    console.error('etcd-e2e: building the suite failed');
    process.exit(1);
  }
  return bin;
}

/** A -bin-dir whose etcd runs `against`, with the real etcdctl; both record their pids. */
function makeBinDir(dir, against, pidFile) {
  mkdirSync(dir, { recursive: true });
  const realEtcd = which('etcd');
  const realCtl = which('etcdctl');
  if (!realEtcd || !realCtl) {
    console.error('etcd-e2e: needs Debian etcd 3.4 (etcd-server, etcd-client) on PATH');
    process.exit(1);
  }
  const etcdExec =
    against === 'tsetcd'
      ? `exec "${process.execPath}" "${join(ROOT, 'bin', 'tsetcd.js')}" "$@"`
      : `exec "${realEtcd}" "$@"`;
  const wrap = (name, execLine) => {
    const p = join(dir, name);
    // A copy of stderr goes to $E2E_MEMBER_LOG, so a failure's cause (a refused flag) is reported.
    const tee = name === 'etcd' ? 'exec 2> >(tee -a "$E2E_MEMBER_LOG" >&2)\n' : '';
    writeFileSync(p, `#!/bin/bash\necho "$$ ${name}" >> "${pidFile}"\n${tee}${execLine}\n`);
    chmodSync(p, 0o755);
  };
  wrap('etcd', etcdExec);
  wrap('etcdctl', `exec "${realCtl}" "$@"`);
}

/** Kills, by pid, every recorded wrapper process that is still alive and still ours. */
function killRecorded(pidFile) {
  if (!existsSync(pidFile)) return 0;
  let n = 0;
  for (const line of readFileSync(pidFile, 'utf8').split('\n')) {
    const pid = Number(line.split(' ')[0]);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone
    }
    if (!/tsetcd\.js|etcd/.test(cmdline)) continue; // the pid was reused by something else
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // already gone
    }
  }
  rmSync(pidFile, { force: true });
  return n;
}

/** Area of a test, from its name: what the suite exercises. */
export function areaOf(name) {
  const n = name.replace(/^Test/, '');
  const rules = [
    [/^CtlV2|^V2|^V2Curl|V2v3/i, 'v2 (unsupported)'],
    [/Auth|Role|User|CommonName/, 'auth'],
    [/Cipher/, 'cipher-suites'],
    [/CRL|Revoked/, 'crl'],
    [/PeerCN|PeerName/, 'peer-cert-cn'],
    [/^V3Curl/, 'json-gateway'],
    [/^Gateway/, 'l4-gateway'],
    [/Grpcproxy/, 'grpc-proxy'],
    [/Lease/, 'lease'],
    [/Watch/, 'watch'],
    [/Member/, 'member'],
    [/Endpoint/, 'endpoint'],
    [/Lock/, 'lock'],
    [/Elect/, 'elect'],
    [/Compact/, 'compact'],
    [/Defrag/, 'defrag'],
    [/Alarm/, 'alarm'],
    [/MoveLeader/, 'move-leader'],
    [/Txn/, 'txn'],
    [/Snapshot|Issue6361|Migrate/, 'snapshot/migrate'],
    [/MakeMirror/, 'make-mirror'],
    [/Metrics/, 'metrics'],
    [/ReleaseUpgrade/, 'release-upgrade'],
    [/Corrupt/, 'corrupt-check'],
    [/^Etcd/, 'server flags'],
    [/Put|Get|Del|Version|DialWith/, 'kv'],
  ];
  for (const [re, area] of rules) if (re.test(n)) return area;
  return 'other';
}

/** TLS shape of a test from its name suffix (the suite's naming). */
function tlsOf(name) {
  const m = /(NoTLS|ClientAutoTLS|ClientTLS|PeerTLS|AllTLS|AutoTLS|TLS)$/.exec(name);
  return m ? m[1] : '';
}

function acquireLock() {
  try {
    mkdirSync(LOCK);
  } catch {
    const age = Date.now() - statSync(LOCK).mtimeMs;
    if (age < LOCK_STALE_MS) {
      console.error(`etcd-e2e: another run holds ${LOCK} (the suite uses fixed ports); try again later`);
      process.exit(1);
    }
    rmSync(LOCK, { recursive: true, force: true });
    mkdirSync(LOCK);
  }
  writeFileSync(join(LOCK, 'pid'), String(process.pid));
}

/** The first line of a member's stderr that says why it would not run (a refused flag, say). */
function memberCause(memberLog) {
  if (!existsSync(memberLog)) return '';
  const lines = readFileSync(memberLog, 'utf8').split('\n');
  const hit = lines.find((l) =>
    /^tsetcd: |not supported by tsetcd|not implemented|"level":"(error|fatal)"/.test(l),
  );
  return hit ? hit.replace(/\t/g, ' ').slice(0, 200) : '';
}

/**
 * A scratch working directory shaped like etcd's tree (tests/e2e, with ../../integration linked to
 * Debian's copy): the suite reads fixtures by relative path and some tests create unix sockets in
 * their working directory, which must not land in /usr/share.
 */
function makeCwd(work) {
  const cwd = join(work, 'tree', 'tests', 'e2e');
  mkdirSync(cwd, { recursive: true });
  symlinkSync(join(ETCD_SRC, 'integration'), join(work, 'tree', 'integration'));
  return cwd;
}

function runOne(bin, name, binDir, tmp, pidFile, timeout, cwd) {
  const memberLog = join(tmp, '..', 'member.log');
  rmSync(memberLog, { force: true });
  return new Promise((res) => {
    const started = Date.now();
    const child = spawn(
      bin,
      [
        '-test.run',
        `^${name}$`,
        '-test.v',
        '-test.count=1',
        '-test.timeout',
        timeout,
        '-bin-dir',
        binDir,
        '-cert-dir',
        CERT_DIR,
      ],
      {
        cwd,
        env: { ...process.env, TMPDIR: tmp, E2E_PID_FILE: pidFile, E2E_MEMBER_LOG: memberLog },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      out += c;
    });
    // Go's -test.timeout panics the binary; this is the backstop should that hang.
    const hard = setTimeout(
      () => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      },
      parseGoSeconds(timeout) * 1000 + 30_000,
    );
    let spawnError = '';
    child.on('error', (err) => {
      spawnError = `cannot run the suite: ${err.message}`;
      out += `${spawnError}\n`;
    });
    child.on('close', (code) => {
      clearTimeout(hard);
      killRecorded(pidFile);
      const secs = (Date.now() - started) / 1000;
      let result = code === 0 && spawnError === '' ? 'pass' : 'fail';
      if (/--- SKIP/.test(out) && code === 0) result = 'skip';
      if (/panic: test timed out/.test(out)) result = 'timeout';
      const why =
        result === 'pass'
          ? ''
          : ((out.match(/^\s+\S+\.go:\d+: .*$/m) ?? out.match(/panic: .*$/m) ?? [''])[0] ?? '')
              .trim()
              .replace(/\t/g, ' ')
              .slice(0, 300);
      const cause = result === 'pass' || result === 'skip' ? '' : memberCause(memberLog);
      res({ name, result, secs, why, cause, out });
    });
  });
}

function parseGoSeconds(s) {
  const m = /^(\d+)(s|m)$/.exec(s);
  if (!m) return 90;
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const bin = buildSuite();
  const listed = spawnSync(bin, ['-test.list', o.run], { cwd: E2E_DIR, encoding: 'utf8' });
  let names = listed.stdout.split('\n').filter((l) => /^Test/.test(l));
  if (o.skip) names = names.filter((n) => !new RegExp(o.skip).test(n));
  if (o.list) {
    for (const n of names) console.log(`${n}\t${areaOf(n)}`);
    return;
  }
  if (names.length === 0) {
    console.error(`etcd-e2e: no test matches ${o.run}`);
    process.exit(2);
  }
  if (o.against === 'tsetcd' && !existsSync(join(ROOT, 'dist', 'src', 'cli', 'tsetcd.js'))) {
    console.error('etcd-e2e: build first (npm run build)');
    process.exit(1);
  }
  acquireLock();
  const work = mkdtempSync(join(tmpdir(), 'tsetcd-etcd-e2e-'));
  const binDir = join(work, 'bin');
  const pidFile = join(work, 'pids');
  const logDir = join(work, 'logs');
  mkdirSync(logDir);
  makeBinDir(binDir, o.against, pidFile);
  const cwd = makeCwd(work);
  const out = o.out || join(ROOT, `etcd-e2e-${o.against}.tsv`);
  writeFileSync(out, 'test\tarea\ttls\tresult\tseconds\tfirst_failure\tmember_says\n');
  const cleanup = () => {
    killRecorded(pidFile);
    rmSync(LOCK, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  process.on('SIGTERM', () => {
    cleanup();
    process.exit(143);
  });
  console.log(`running ${names.length} etcd e2e tests against ${o.against} (timeout ${o.timeout} each)`);
  const results = [];
  try {
    for (const name of names) {
      const tmp = join(work, 'tmp');
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp);
      const r = await runOne(bin, name, binDir, tmp, pidFile, o.timeout, cwd);
      results.push(r);
      appendFileSync(
        out,
        `${name}\t${areaOf(name)}\t${tlsOf(name)}\t${r.result}\t${r.secs.toFixed(1)}\t${r.why}\t${r.cause}\n`,
      );
      if (r.result !== 'pass' && r.result !== 'skip') writeFileSync(join(logDir, `${name}.log`), r.out);
      console.log(
        `${r.result.padEnd(7)} ${r.secs.toFixed(1).padStart(6)}s  ${name}${r.why ? `  ${r.why}` : ''}${r.cause ? `\n                  member: ${r.cause}` : ''}`,
      );
    }
  } finally {
    cleanup();
    rmSync(join(work, 'tmp'), { recursive: true, force: true });
  }
  // Summary by area.
  const by = new Map();
  for (const r of results) {
    const a = areaOf(r.name);
    const s = by.get(a) ?? { pass: 0, fail: 0, timeout: 0, skip: 0 };
    s[r.result]++;
    by.set(a, s);
  }
  const failed = results.some((r) => r.result !== 'pass' && r.result !== 'skip');
  console.log(`\nagainst ${o.against}: results in ${out}${failed ? `; logs of failures in ${logDir}` : ''}`);
  console.log(`${'area'.padEnd(20)} pass  fail  timeout  skip`);
  for (const [a, s] of [...by].sort()) {
    console.log(
      `${a.padEnd(20)} ${String(s.pass).padStart(4)}  ${String(s.fail).padStart(4)}  ${String(s.timeout).padStart(7)}  ${String(s.skip).padStart(4)}`,
    );
  }
  const pass = results.filter((r) => r.result === 'pass').length;
  const fail = results.length - pass - results.filter((r) => r.result === 'skip').length;
  const skipped = results.filter((r) => r.result === 'skip').length;
  console.log(`${pass} passed, ${fail} failed, ${skipped} skipped`);
  if (results.every((r) => r.result === 'pass' || r.result === 'skip'))
    rmSync(work, { recursive: true, force: true });
  if (o.expectPass && fail > 0) process.exit(1);
}

try {
  await main();
} finally {
  // main's own cleanup covers the normal path; this covers a throw before it got there.
  if (existsSync(join(LOCK, 'pid')) && readFileSync(join(LOCK, 'pid'), 'utf8') === String(process.pid)) {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
