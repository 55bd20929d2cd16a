// Goal: the gateway's TCP proxy picks remotes as etcd's tcpproxy does (best SRV priority first; by
// weight when weights are given; round robin otherwise), skips a remote that refuses a dial, brings
// it back after a successful probe, and pipes bytes both ways untouched.
// Method: remotes are local TCP echo servers (or a closed port); picks are counted over many calls
// with a seeded random source.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { SeededRng } from './rng.js';
import { type ProxyRemote, TcpProxy } from './tcp-proxy.js';

const quiet = { info() {}, warn() {} };
const remote = (port: number, priority = 0, weight = 0): ProxyRemote => ({
  host: '127.0.0.1',
  port,
  priority,
  weight,
});

function counts(proxy: TcpProxy, n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = proxy.pick();
    const k = r === undefined ? 'none' : `${r.port}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

test('round robin over unweighted remotes of the best priority; a worse priority is not used', () => {
  const p = new TcpProxy({
    remotes: [remote(1), remote(2, 5), remote(3)],
    retryDelayMs: 1000,
    logger: quiet,
  });
  assert.deepEqual(Object.fromEntries(counts(p, 100)), { 1: 50, 3: 50 });
});

test('weighted remotes are chosen in proportion to their weights', () => {
  const rng = new SeededRng(7);
  const p = new TcpProxy({
    remotes: [remote(1, 0, 10), remote(2, 0, 30)],
    retryDelayMs: 1000,
    logger: quiet,
    randomInt: (n) => rng.int(n),
  });
  const c = counts(p, 4000);
  const share = (c.get('2') ?? 0) / 4000;
  assert.ok(share > 0.7 && share < 0.8, `weight 30 of 40 got ${share}`);
});

async function echoServer(): Promise<{ port: number; close(): Promise<void>; conns(): number }> {
  let n = 0;
  const s = net.createServer((c) => {
    n++;
    c.pipe(c);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    port: (s.address() as net.AddressInfo).port,
    close: () => new Promise((r) => s.close(() => r())),
    conns: () => n,
  };
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(text));
    let got = '';
    c.on('data', (d) => {
      got += d.toString();
      if (got.length >= text.length) {
        c.destroy();
        resolve(got);
      }
    });
    c.on('error', reject);
    c.on('close', () => reject(new Error(`connection closed after ${JSON.stringify(got)}`)));
  });
}

test('a remote that refuses is skipped and set inactive; bytes pass through the next one', async (t) => {
  const echo = await echoServer();
  const dead = await closedPort();
  const warned: string[] = [];
  const p = new TcpProxy({
    remotes: [remote(dead), remote(echo.port)],
    retryDelayMs: 60_000,
    logger: { info() {}, warn: (_o, m) => warned.push(m) },
  });
  const port = await p.listen('127.0.0.1', 0);
  t.after(async () => {
    await p.close();
    await echo.close();
  });
  for (let i = 0; i < 4; i++) assert.equal(await roundTrip(port, `hello ${i}`), `hello ${i}`);
  assert.equal(echo.conns(), 4);
  assert.deepEqual(warned, ['deactivated endpoint']);
  assert.equal(p.activeness().get(`127.0.0.1:${dead}`), false);
});

test('an inactive remote is activated again once a probe connects', async (t) => {
  const echo = await echoServer();
  const port2 = await closedPort();
  const infos: string[] = [];
  const p = new TcpProxy({
    remotes: [remote(port2), remote(echo.port)],
    retryDelayMs: 50,
    logger: { info: (_o, m) => infos.push(m), warn() {} },
  });
  const port = await p.listen('127.0.0.1', 0);
  await roundTrip(port, 'x');
  await roundTrip(port, 'y');
  assert.equal(p.activeness().get(`127.0.0.1:${port2}`), false);
  const back = net.createServer((c) => c.pipe(c));
  await new Promise<void>((r) => back.listen(port2, '127.0.0.1', r));
  t.after(async () => {
    await p.close();
    await echo.close();
    await new Promise<void>((r) => back.close(() => r()));
  });
  const deadline = Date.now() + 5000;
  while (p.activeness().get(`127.0.0.1:${port2}`) !== true) {
    assert.ok(Date.now() < deadline, 'the remote was not activated again');
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(infos.includes('activated'));
});
