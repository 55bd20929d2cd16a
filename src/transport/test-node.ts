/**
 * Test support, imported by tests only (never by the member): a Transport on 127.0.0.1 port 0
 * whose callbacks record what it is handed, and the MsgApp the transport tests send.
 */
import { SeededRng } from '../pkg/index.js';
import { type Message, MessageType, newMessage } from '../raft/index.js';
import { Transport } from './transport.js';
import type { TransportLogger, TransportOptions } from './types.js';

/** The cluster id a test node has unless its options name another. */
export const TEST_CLUSTER_ID = 0x1000n;

/** A started transport and what its callbacks and logger recorded, in arrival order. */
export interface TestNode {
  t: Transport;
  id: bigint;
  /** Its peer URL: https:// when started with `tls`. */
  url: string;
  got: Message[];
  unreachable: bigint[];
  snapStatus: [bigint, boolean][];
  /** Every log line at any level: the message, a space, then its fields as JSON. */
  logs: string[];
}

/** What a test node needs of `node:test`'s context: a cleanup hook. */
export type TestCtx = { after(fn: () => Promise<void> | void): void };

/**
 * Starts member `id`'s transport (closed in `tc.after`), with `extra` options over the recording
 * defaults; `extra` may be built from the node's logger (a TLS endpoint logs through it).
 */
export async function startTestNode(
  tc: TestCtx,
  id: bigint,
  extra: Partial<TransportOptions> | ((logger: TransportLogger) => Partial<TransportOptions>) = {},
): Promise<TestNode> {
  const logs: string[] = [];
  const line = (o: object, m: string) =>
    logs.push(`${m} ${JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  const logger: TransportLogger = { debug: line, info: line, warn: line, error: line };
  const n: TestNode = { t: undefined as never, id, url: '', got: [], unreachable: [], snapStatus: [], logs };
  const opts = typeof extra === 'function' ? extra(logger) : extra;
  n.t = await Transport.start({
    localId: id,
    clusterId: TEST_CLUSTER_ID,
    listen: { host: '127.0.0.1', port: 0 },
    onMessage: (m) => n.got.push(m),
    onUnreachable: (p) => n.unreachable.push(p),
    onSnapshotStatus: (p, ok) => n.snapStatus.push([p, ok]),
    logger,
    rng: new SeededRng(Number(id)),
    ...opts,
  });
  n.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${n.t.address.port}`;
  tc.after(() => n.t.close());
  return n;
}

/** Whether `n` logged `message` (at any level, whatever its fields). */
export function logged(n: TestNode, message: string): boolean {
  return n.logs.some((l) => l.startsWith(`${message} `));
}

/** A term-1 MsgApp from `from` to `to` carrying one entry at `index` of `bytes` bytes. */
export function appMessage(from: bigint, to: bigint, index: number, bytes = 16): Message {
  return newMessage({
    type: MessageType.App,
    from,
    to,
    term: 1,
    index,
    entries: [{ term: 1, index, type: 0, data: new Uint8Array(bytes).fill(index & 0xff) }],
  });
}
