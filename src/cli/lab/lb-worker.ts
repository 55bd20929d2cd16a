/**
 * The workload side of `tsetcd lab lb`, run in a worker thread: one `tsetcd/client` Client (the
 * project's own client, as an application would use it) with the mode's policy and target, sending
 * the Puts the lab asks for and answering with the member id in each response header.
 *
 * Why a worker: grpc-js's DNS resolver uses the DNS server named in a `dns://HOST:PORT/name:port`
 * target only when GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true, and grpc-js reads that variable once,
 * when it is first loaded. A worker loads its own copy of grpc-js with its own environment, so the
 * dns:/// mode asks the lab's DNS server without the lab touching /etc/hosts or resolv.conf, and
 * the lab's main thread (its control calls, its timers) stays out of the client's event loop.
 *
 * Protocol: the worker posts `{ ready: true }` once its Client is built; the parent posts `{ seq, key, value }`; the worker answers `{ seq, memberId }` (decimal
 * string) or `{ seq, error }`. `{ close: true }` closes the client and ends the worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Client } from '../../client/index.js';
import type { LbWorkerConfig } from './lb-client.js';

const config = workerData as LbWorkerConfig;
const client = new Client({
  endpoints: config.endpoints,
  lbPolicy: config.policy,
  callTimeoutMs: config.putTimeoutMs,
  ...(config.followMembershipMs !== undefined
    ? { followMembership: { intervalMs: config.followMembershipMs } }
    : {}),
});

parentPort!.postMessage({ ready: true });
parentPort!.on('message', (msg: { seq: number; key: string; value: string } | { close: true }) => {
  if ('close' in msg) {
    client.close();
    parentPort!.close();
    return;
  }
  client.kv.put(msg.key, msg.value).then(
    (r) => parentPort!.postMessage({ seq: msg.seq, memberId: String(r.header?.memberId ?? 0n) }),
    (e: Error) => parentPort!.postMessage({ seq: msg.seq, error: e.message }),
  );
});
