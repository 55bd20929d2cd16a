/**
 * Goal: `tsetcd lab kube` reproduces seed 001's finding on one machine — a headless Service with
 * round_robin spreads gRPC over every pod, a ClusterIP or pick_first pins each gateway to one pod,
 * HTTP/1.1 spreads only with a connection per request — and leaves nothing behind: not on exit, not
 * on Ctrl-C, and a run SIGKILLed mid-way is cleaned up by the next run.
 * Method: the real command as root (namespaces, veths, nftables, the DNS server, kubetester's
 * services), random run ids. Run A gets SIGINT once its pods exist; run B gets SIGKILL; run C runs
 * every scenario with `-w json --html` and must report removing B's leftovers. After each, `ip netns
 * list`, /etc/netns, the state dir and the host's `nft list tables` are checked. Skipped (with the
 * reason) when not root or iproute2/nftables are missing.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KubeLabResult } from './kube.js';
import { missingPrerequisites, NFT_TABLE, STATE_DIR } from './net.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const bin = join(root, 'bin', 'tsetcd.js');
const missing = missingPrerequisites();
const skip = missing.length > 0 ? `needs ${missing.join(', ')}` : false;
const tmp = mkdtempSync(join(tmpdir(), 'tsetcd-lab-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function netnsOf(runId: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`tsl${runId}-`));
}

function assertGone(runId: string): void {
  assert.deepEqual(netnsOf(runId), [], `namespaces of run ${runId} remain`);
  const etc = existsSync('/etc/netns') ? execFileSync('ls', ['/etc/netns'], { encoding: 'utf8' }) : '';
  assert.ok(!etc.includes(`tsl${runId}-`), `/etc/netns entries of run ${runId} remain`);
  assert.ok(!existsSync(join(STATE_DIR, `${runId}.json`)), `state file of run ${runId} remains`);
  assert.ok(
    !execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).includes(NFT_TABLE),
    'host nft table',
  );
}

/** Starts the lab; resolves with the child and its run id once its pods exist. */
function startLab(args: string[]): Promise<{ child: ChildProcess; runId: string; stderr: () => string }> {
  const child = spawn(process.execPath, [bin, 'lab', 'kube', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.setEncoding('utf8');
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`lab did not start: ${err}`)), 60_000);
    child.stderr!.on('data', (c: string) => {
      err += c;
      const m = /lab: run ([0-9a-f]+):[\s\S]*lab: pods: /.exec(err);
      if (m) {
        clearTimeout(timer);
        res({ child, runId: m[1]!, stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`lab exited ${code}: ${err}`));
    });
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((res) =>
    child.exitCode !== null || child.signalCode !== null
      ? res(child.exitCode)
      : child.once('exit', (c) => res(c)),
  );
}

test('Ctrl-C mid-run removes everything the run created', { skip, timeout: 90_000 }, async () => {
  const a = await startLab(['-n', '5']);
  assert.ok(netnsOf(a.runId).length >= 11, 'node, client and 9 pod namespaces exist while it runs');
  a.child.kill('SIGINT');
  assert.equal(await exitOf(a.child), 130, a.stderr());
  assertGone(a.runId);
});

test('a SIGKILLed run is cleaned by the next; the demo shows the seed finding', {
  skip,
  timeout: 150_000,
}, async () => {
  const b = await startLab(['-n', '5']);
  b.child.kill('SIGKILL');
  await exitOf(b.child);
  assert.ok(netnsOf(b.runId).length > 0, 'a killed run leaves its namespaces behind');

  const html = join(tmp, 'report.html');
  const c = spawn(process.execPath, [bin, 'lab', 'kube', '-n', '30', '-w', 'json', '--html', html], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(c);
  let out = '';
  let err = '';
  c.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  c.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await exitOf(c);
  assert.match(err, /removed \d+ namespaces left by an earlier run/);
  assertGone(b.runId);
  const r = JSON.parse(out) as KubeLabResult;
  assertGone(r.runId);
  assert.equal(code, 0, err);
  const by = new Map(r.scenarios.map((s) => [s.id, s]));
  for (const s of r.scenarios) {
    assert.equal(s.failures, 0, s.id);
    assert.equal(
      s.backends.reduce((n, b) => n + b.answers, 0),
      30,
      s.id,
    );
  }
  // Headless + round_robin: every gateway reaches every pod.
  assert.deepEqual(
    by.get('grpc-headless-round-robin')!.gateways.map((g) => Object.keys(g.backends).length),
    [3, 3, 3],
  );
  // ClusterIP: one connection, one pod, per gateway. pick_first: the first address, for all.
  assert.equal(by.get('grpc-clusterip')!.podsPerGatewayMax, 1);
  assert.equal(by.get('grpc-headless-pick-first')!.podsReached, 1);
  // HTTP/1.1 keep-alive sticks per gateway; a connection per request spreads (and resolves each time).
  assert.equal(by.get('http-clusterip-keepalive')!.podsPerGatewayMax, 1);
  const perReq = by.get('http-clusterip-per-request')!;
  assert.equal(perReq.podsReached, 3);
  assert.equal(perReq.dnsQueries, 30);
  // The HTML report's bars carry the same numbers.
  const page = readFileSync(html, 'utf8');
  for (const s of r.scenarios)
    for (const b of s.backends)
      assert.ok(page.includes(`data-pod="${b.pod}" data-answers="${b.answers}"`), b.pod);
  assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(page), 'self-contained: no script, no external URL');
});
