/**
 * Goal: `--conns N` really opens N TCP connections (grpc-js would otherwise share one subchannel
 * between channels with equal options), and an unreachable target fails within --dial-timeout.
 * Method: a local node:http2 server on port 0 counts the sessions grpc-js opens; a control case
 * shows that channels with the same options and the global subchannel pool share one connection.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { BenchConnectError, openConns } from './runner.js';

/** An HTTP/2 server on a free port that counts sessions (TCP connections); close() ends them all. */
async function countingServer(): Promise<{
  endpoint: string;
  sessions: () => number;
  close: () => Promise<void>;
}> {
  const server = createServer();
  const open: ServerHttp2Session[] = [];
  server.on('session', (s) => open.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `127.0.0.1:${port}`,
    sessions: () => open.length,
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

for (const transport of ['grpc-js', 'h2'] as const) {
  test(`openConns opens one TCP connection per conn (${transport})`, async (t) => {
    const { endpoint, sessions, close } = await countingServer();
    t.after(close);
    const conns = await openConns({ name: 'x', endpoints: [endpoint] }, 3, 5000, transport);
    t.after(() => {
      for (const c of conns) c.close();
    });
    assert.equal(conns.length, 3);
    // The client may see its side connected before the server has accepted every session.
    const deadline = Date.now() + 5000;
    while (sessions() < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sessions(), 3);
  });

  test(`an unreachable target fails with BenchConnectError within the dial timeout (${transport})`, async () => {
    // Port 1 on loopback: nothing listens there (connection refused).
    const t0 = Date.now();
    await assert.rejects(
      openConns({ name: 'nope', endpoints: ['127.0.0.1:1'] }, 2, 300, transport),
      (err: unknown) =>
        err instanceof BenchConnectError &&
        /cannot connect to nope at 127\.0\.0\.1:1 within 300ms/.test(err.message),
    );
    assert.ok(Date.now() - t0 < 5000);
  });
}

test('control: equal options on the global pool share one connection', async (t) => {
  const { endpoint, sessions, close } = await countingServer();
  t.after(close);
  const clients = [0, 1, 2].map(() => new grpc.Client(endpoint, grpc.credentials.createInsecure(), {}));
  t.after(() => {
    for (const c of clients) c.close();
  });
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve, reject) =>
          c.waitForReady(Date.now() + 5000, (e) => (e ? reject(e) : resolve())),
        ),
    ),
  );
  // Give a second connection the same chance to show up as in the test above.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sessions(), 1);
});
