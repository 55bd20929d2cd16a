/**
 * The client modes `tsetcd lab lb` compares, and the LbClient that drives each through
 * `tsetcd/client` in a worker thread (lb-worker.ts says why a worker).
 *
 *   mode                 target the client gets                       policy
 *   round_robin          the three endpoints (static, as etcdctl)    round_robin (clientv3's default)
 *   pick_first           the three endpoints                         pick_first (grpc-js's default)
 *   dns_round_robin      dns://127.0.0.1:DNSPORT/tsetcd-lb:D          round_robin over the A records
 *   members_round_robin  the three endpoints, then MemberList        round_robin, followMembership
 */
import { Worker } from 'node:worker_threads';
import type { LbPolicy } from '../../client/index.js';

/** The modes, in the order the lab runs them. `members_round_robin` only with --add. */
export const LB_MODES = ['round_robin', 'pick_first', 'dns_round_robin', 'members_round_robin'] as const;
export type LbMode = (typeof LB_MODES)[number];

/** The balancing policy of a mode. */
export function policyOf(mode: LbMode): LbPolicy {
  return mode === 'pick_first' ? 'pick_first' : 'round_robin';
}

/** One line on what a mode's client is given. */
export function modeTarget(mode: LbMode): string {
  switch (mode) {
    case 'round_robin':
    case 'pick_first':
      return 'static endpoints';
    case 'dns_round_robin':
      return "dns:/// name answered by the lab's DNS server";
    case 'members_round_robin':
      return 'static endpoints, then MemberList every second';
  }
}

/** The membership mode's MemberList interval, in ms. */
export const MEMBERSHIP_SYNC_MS = 1000;

/** Deadline of one Put, in ms. */
export const PUT_TIMEOUT_MS = 5000;

/** How long a closing worker may take before it is terminated, in ms. */
const WORKER_CLOSE_TIMEOUT_MS = 2000;

/** What the worker needs to build its Client (structured-cloned into it). */
export interface LbWorkerConfig {
  /** host:port list, or one dns:// target. */
  endpoints: string[];
  policy: LbPolicy;
  putTimeoutMs: number;
  /** Follow MemberList at this interval (ms). */
  followMembershipMs?: number;
}

/** A client that sends Puts with one mode. */
export interface LbClient {
  /** Resolves when the client is built (its worker loaded), before the first Put is timed. */
  ready(): Promise<void>;
  /** Resolves with the id of the member that answered (its response header's member_id). */
  put(key: string, value: string): Promise<bigint>;
  close(): Promise<void>;
}

/** Where a mode's client connects: the members' endpoints, and the dns:/// target. */
export interface LbTargets {
  endpoints: readonly string[];
  /** `dns://HOST:PORT/name:port`; undefined when the lab runs no DNS server. */
  dnsTarget: string | undefined;
}

/** Makes an LbClient for a mode. */
export type LbClientFactory = (mode: LbMode, targets: LbTargets) => LbClient;

/** The workload through tsetcd/client, in a worker thread with its own grpc-js. */
export const tsetcdClient: LbClientFactory = (mode, targets) => {
  if (mode === 'dns_round_robin' && targets.dnsTarget === undefined)
    throw new Error('dns_round_robin needs the lab DNS server');
  const config: LbWorkerConfig = {
    endpoints: mode === 'dns_round_robin' ? [targets.dnsTarget!] : [...targets.endpoints],
    policy: policyOf(mode),
    putTimeoutMs: PUT_TIMEOUT_MS,
    ...(mode === 'members_round_robin' ? { followMembershipMs: MEMBERSHIP_SYNC_MS } : {}),
  };
  const worker = new Worker(new URL('./lb-worker.js', import.meta.url), {
    workerData: config,
    env: { ...process.env, GRPC_NODE_USE_ALTERNATIVE_RESOLVER: 'true' },
  });
  const pending = new Map<number, { res: (id: bigint) => void; rej: (e: Error) => void }>();
  let seq = 0;
  let failed: Error | undefined;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    markReady = r;
  });
  worker.on('message', (m: { seq: number; memberId?: string; error?: string; ready?: true }) => {
    if (m.ready) return markReady();
    const p = pending.get(m.seq);
    if (!p) return;
    pending.delete(m.seq);
    if (m.error !== undefined) p.rej(new Error(m.error));
    else p.res(BigInt(m.memberId ?? '0'));
  });
  const fail = (e: Error) => {
    failed = e;
    for (const p of pending.values()) p.rej(e);
    pending.clear();
  };
  worker.on('error', fail);
  const exited = new Promise<void>((r) =>
    worker.once('exit', () => {
      fail(new Error('lab client worker exited'));
      r();
    }),
  );
  return {
    ready: () => Promise.race([ready, exited.then(() => Promise.reject(failed))]),
    put: (key, value) =>
      new Promise((res, rej) => {
        if (failed) return rej(failed);
        const s = ++seq;
        pending.set(s, { res, rej });
        worker.postMessage({ seq: s, key, value });
      }),
    close: async () => {
      worker.postMessage({ close: true });
      // The client's channels close at once; a worker still alive after that is ended.
      const t = setTimeout(() => void worker.terminate(), WORKER_CLOSE_TIMEOUT_MS);
      await exited;
      clearTimeout(t);
    },
  };
};
