/**
 * Transport benchmark (not a test): two transports in one process on loopback.
 *   1. Throughput: MsgApp-like messages with one 1 KiB entry from A to B, as fast as the queue
 *      takes them; reports messages/s and payload MB/s (entry bytes, 10^6 bytes per MB).
 *   2. Round trip: A sends one MsgHeartbeat, B answers with MsgHeartbeatResp from its onMessage;
 *      reports median and p99 of the loopback RTT over sequential pings.
 * Both sides share one Node event loop (and one core), so a two-process setup would do better.
 * Run: npx tsc -p . && node dist/bench/transport.js [messages] [pings]
 */
import { performance } from 'node:perf_hooks';
import { type Message, MessageType, newMessage } from '../src/raft/index.js';
import { Transport } from '../src/transport/index.js';
import { helpFromHeader } from '../src/pkg/script-help.js';

helpFromHeader(import.meta.url);

const MESSAGES = Number(process.argv[2] ?? 200_000);
const PINGS = Number(process.argv[3] ?? 2_000);
const ENTRY_BYTES = 1024;
const BURST = 256;

async function main(): Promise<void> {
  let received = 0;
  let pongs = 0;
  let b: Transport | undefined;
  const a = await Transport.start({
    localId: 1n,
    clusterId: 7n,
    listen: { host: '127.0.0.1', port: 0 },
    onMessage: (m) => {
      if (m.type === MessageType.HeartbeatResp) pongs++;
    },
  });
  b = await Transport.start({
    localId: 2n,
    clusterId: 7n,
    listen: { host: '127.0.0.1', port: 0 },
    onMessage: (m) => {
      if (m.type === MessageType.App) received++;
      else if (m.type === MessageType.Heartbeat) {
        b!.send([newMessage({ type: MessageType.HeartbeatResp, from: 2n, to: 1n, term: m.term })]);
      }
    },
  });
  a.addPeer(2n, [`http://127.0.0.1:${b.address.port}`]);
  b.addPeer(1n, [`http://127.0.0.1:${a.address.port}`]);

  const data = new Uint8Array(ENTRY_BYTES).fill(0x61);
  const app = (i: number): Message =>
    newMessage({
      type: MessageType.App,
      from: 1n,
      to: 2n,
      term: 5,
      logTerm: 5,
      index: i,
      commit: i,
      entries: [{ term: 5, index: i + 1, type: 0, data }],
    });
  const tick = () => new Promise<void>((r) => setImmediate(r));

  // Warm up the connection.
  a.send([app(0)]);
  while (received < 1) await tick();
  received = 0;

  const t0 = performance.now();
  let sent = 0;
  while (received < MESSAGES) {
    const queued = a.stats().get(2n)!.queued;
    if (sent < MESSAGES && queued < 4096 - BURST) {
      const burst: Message[] = [];
      for (let k = 0; k < BURST && sent < MESSAGES; k++) burst.push(app(++sent));
      a.send(burst);
    }
    await tick();
  }
  const secs = (performance.now() - t0) / 1000;
  const dropped = a.stats().get(2n)!.dropped;

  const rtts: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const before = pongs;
    const s = performance.now();
    a.send([newMessage({ type: MessageType.Heartbeat, from: 1n, to: 2n, term: 5 })]);
    while (pongs === before) await new Promise<void>((r) => setImmediate(r));
    rtts.push(performance.now() - s);
  }
  rtts.sort((x, y) => x - y);
  const q = (p: number) => rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))]!;

  console.log(
    JSON.stringify(
      {
        messages: MESSAGES,
        entryBytes: ENTRY_BYTES,
        seconds: Number(secs.toFixed(3)),
        messagesPerSec: Math.round(MESSAGES / secs),
        payloadMBPerSec: Number(((MESSAGES * ENTRY_BYTES) / secs / 1e6).toFixed(1)),
        wireMBPerSec: Number((a.stats().get(2n)!.bytes / secs / 1e6).toFixed(1)),
        dropped,
        rttMsP50: Number(q(0.5).toFixed(3)),
        rttMsP99: Number(q(0.99).toFixed(3)),
        pings: PINGS,
      },
      null,
      1,
    ),
  );
  await a.close();
  await b.close();
}

await main();
