/**
 * etcd 3.4's corruption checks (etcdserver/corrupt.go), as one part with a narrow host:
 *
 *   GET /members/hashkv   (peer port) body `{"revision": N}` -> `{"header":{"revision":R},"hash":H,
 *                         "compact_revision":C}`; 400 with the mvcc error's text for a compacted or
 *                         future revision, 405 for another method. Go's encoding/json shapes: zero
 *                         fields left out, 64-bit numbers as numbers.
 *
 *   --experimental-initial-corrupt-check   before the member serves anything (before its peer
 *       listener and Raft start), a member whose data dir already held a WAL hashes its store at its
 *       revision and asks every peer for its HashKV at that revision. A peer with the same compact
 *       revision and another hash is a mismatch: the member refuses to start with etcd's error
 *       "<id> found data inconsistency with peers". Peers that cannot answer, are behind
 *       (future revision) or compacted further are logged and skipped, as etcd does.
 *
 *   --experimental-corrupt-check-time=D    every D, on the leader only: hash (h, rev, crev), ask the
 *       peers for their hash at rev, wait for a linearizable read, hash again (h2, rev2, crev2). A
 *       changed hash at the same revision, a follower ahead of the leader (revision or compact
 *       revision), or a follower with the leader's compact revision and another hash raises the
 *       CORRUPT alarm once per pass, with member id 0 (etcd 3.4: "it isn't clear which member's data
 *       is corrupted"). With CORRUPT active every member's applier refuses writes, compactions and
 *       lease grants/revokes with "etcdserver: corrupt cluster" (applier.ts); reads still work, as
 *       in etcd, and `alarm disarm` lifts it.
 *
 * Log lines use etcd's zap messages and field names, so operators' log searches match.
 */
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { collectBodyCapped } from '../pkg/index.js';
import type { PeerServer } from '../transport/index.js';
import type { ResolvedConfig } from './config.js';
import type { Logger } from './logger.js';

/** etcd's PeerHashKVPath. */
export const HASHKV_PEER_PATH = '/members/hashkv';
/** The most bytes of a peer's /members/hashkv answer (or request) read; a HashKVResponse is tiny. */
const HASHKV_BODY_BYTES_MAX = 64 * 1024;

/** A store hash as etcd's HashByRev returns it. */
export interface KvHash {
  hash: number;
  revision: number;
  compactRevision: number;
}

/** A peer's answer, or why there is none (etcd's peerHashKVResp). */
interface PeerHash {
  id: bigint;
  eps: string[];
  resp?: { memberId: bigint; revision: number; hash: number; compactRevision: number };
  /** 'compacted' / 'future-rev' as etcd's rpctypes.ErrCompacted / ErrFutureRev, else the error text. */
  err?: string;
}

/** What the corruption checks need from the member. */
export interface CorruptCheckHost {
  cfg: Pick<ResolvedConfig, 'requestTimeoutMs' | 'clock' | 'initialCorruptCheck' | 'corruptCheckTimeMs'>;
  logger: Logger;
  memberId: bigint;
  clusterId: bigint;
  /** etcd's HashByRev: the store's hash at `rev` (0 = current); throws MvccError compacted/future-rev. */
  hashByRev(rev: number): Promise<KvHash>;
  /** Every member of the table (this one included). */
  members(): { id: bigint; peerUrls: string[] }[];
  isLeader(): boolean;
  stopped(): boolean;
  /** A linearizable read barrier (etcd's linearizableReadNotify); rejects on timeout. */
  readBarrier(): Promise<void>;
  /** Proposes AlarmRequest{ACTIVATE, CORRUPT, memberID 0}. */
  raiseCorruptAlarm(): Promise<unknown>;
  /** GET with a JSON body to a peer URL (https:// through the peer TLS settings). */
  peerGet?: PeerGet;
}

/** A GET with a body (etcd sends HashKVRequest as the body of a GET), answered as status + text. */
export type PeerGet = (
  url: string,
  body: string,
  timeoutMs: number,
) => Promise<{ status: number; text: string }>;

/** The error an initial check that found a mismatch fails with (etcd's text; etcdmain prints it). */
export class CorruptionError extends Error {
  override name = 'CorruptionError';
}

/** Serves GET /members/hashkv on the peer port, as etcd's hashKVHandler. */
export function serveHashKv(
  server: PeerServer,
  host: Pick<CorruptCheckHost, 'hashByRev' | 'clusterId' | 'logger'>,
): void {
  server.handle(HASHKV_PEER_PATH, (req, res) => {
    const httpError = (status: number, text: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, {
        ...extra,
        'content-type': 'text/plain; charset=utf-8',
        'x-content-type-options': 'nosniff',
      });
      res.end(`${text}\n`);
    };
    // etcd's mux routes the exact path only; anything below it is Go's 404.
    if (new URL(req.url ?? '/', 'http://x').pathname !== HASHKV_PEER_PATH)
      return httpError(404, '404 page not found');
    if (req.method !== 'GET') return httpError(405, 'Method Not Allowed', { allow: 'GET' });
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes <= HASHKV_BODY_BYTES_MAX) chunks.push(c);
    });
    req.on('end', () => {
      let revision: number;
      try {
        if (bytes > HASHKV_BODY_BYTES_MAX) throw new Error('request too large');
        revision = parseHashKvRequest(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        host.logger.warn({ error: String(err) }, 'failed to unmarshal request');
        return httpError(400, 'error unmarshalling request');
      }
      host.hashByRev(revision).then(
        (h) => {
          res.writeHead(200, {
            'x-etcd-cluster-id': host.clusterId.toString(16),
            'content-type': 'application/json',
          });
          res.end(hashKvResponseJson(h));
        },
        (err: unknown) => {
          host.logger.warn({ 'requested-revision': revision, error: String(err) }, 'failed to get hashKV');
          httpError(400, (err as Error).message ?? String(err));
        },
      );
    });
  });
}

/** HashKVRequest from Go's encoding/json: `{"revision": N}` (absent = 0); throws on anything else. */
export function parseHashKvRequest(text: string): number {
  const v: unknown = JSON.parse(text);
  if (v === null) return 0; // Go's Unmarshal of null into a struct leaves it as is
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error('json: cannot unmarshal into HashKVRequest');
  const r = (v as Record<string, unknown>).revision;
  if (r === undefined || r === null) return 0;
  if (typeof r !== 'number' || !Number.isSafeInteger(r)) throw new Error('json: revision is not an int64');
  return r;
}

/** HashKVResponse as Go's encoding/json writes it (omitempty: zero fields left out). */
export function hashKvResponseJson(h: KvHash): string {
  const out: Record<string, unknown> = {};
  out.header = h.revision !== 0 ? { revision: h.revision } : {};
  if (h.hash !== 0) out.hash = h.hash;
  if (h.compactRevision !== 0) out.compact_revision = h.compactRevision;
  return JSON.stringify(out);
}

/** A peer's HashKVResponse JSON, read as etcd's getPeerHashKVHTTP reads it. */
function parseHashKvResponse(text: string): NonNullable<PeerHash['resp']> {
  const v = JSON.parse(text) as {
    header?: { member_id?: number | string; revision?: number };
    hash?: number;
    compact_revision?: number;
  };
  return {
    memberId: BigInt(v.header?.member_id ?? 0),
    revision: Number(v.header?.revision ?? 0),
    hash: Number(v.hash ?? 0),
    compactRevision: Number(v.compact_revision ?? 0),
  };
}

/** GET with a body over plain http (fetch refuses a GET body); https goes through `tlsGet`. */
export function makePeerGet(tlsGet?: PeerGet): PeerGet {
  return (url, body, timeoutMs) => {
    if (url.startsWith('https:')) {
      if (!tlsGet) return Promise.reject(new Error(`no peer TLS settings for ${url}`));
      return tlsGet(url, body, timeoutMs);
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'GET',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          signal: AbortSignal.timeout(timeoutMs),
          agent: false,
        },
        (res) => {
          collectBodyCapped(req, res, HASHKV_BODY_BYTES_MAX, (body) =>
            resolve({ status: res.statusCode ?? 500, text: body.toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
}

const COMPACTED_TEXT = 'mvcc: required revision has been compacted';
const FUTURE_REV_TEXT = 'mvcc: required revision is a future revision';

/** The corruption checks of one member: the initial check and the leader's periodic pass. */
export class CorruptChecker {
  private timer: { clear(): void } | undefined;
  private running = false;
  private readonly peerGet: PeerGet;

  constructor(private readonly host: CorruptCheckHost) {
    this.peerGet = host.peerGet ?? makePeerGet();
  }

  /**
   * At start, before the peer listener and Raft: the initial check when enabled and the data dir
   * already held a WAL (`initialized`; etcd skips a new member), then the periodic timer when
   * --experimental-corrupt-check-time > 0. Throws CorruptionError on a mismatch.
   */
  async start(initialized: boolean): Promise<void> {
    const { cfg } = this.host;
    if (cfg.initialCorruptCheck && initialized) await this.checkInitial();
    const every = cfg.corruptCheckTimeMs ?? 0;
    if (every > 0) {
      this.host.logger.info(
        { 'local-member-id': this.host.memberId.toString(16), interval: goDuration(every) },
        'enabled corruption checking',
      );
      this.timer = cfg.clock.setInterval(() => this.maybeCheck(), every);
    }
  }

  /** Stops the periodic pass (a pass in flight finishes on its own). */
  stop(): void {
    this.timer?.clear();
    this.timer = undefined;
  }

  /** etcd's CheckInitialHashKV. */
  async checkInitial(): Promise<void> {
    const { host } = this;
    const local = host.memberId.toString(16);
    host.logger.info(
      { 'local-member-id': local, timeout: goDuration(host.cfg.requestTimeoutMs) },
      'starting initial corruption check',
    );
    let mine: KvHash;
    try {
      mine = await host.hashByRev(0);
    } catch (err) {
      throw new Error(`${local} failed to fetch hash (${(err as Error).message})`);
    }
    const { hash: h, revision: rev, compactRevision: crev } = mine;
    let mismatch = 0;
    for (const p of await this.peerHashes(rev)) {
      if (p.resp) {
        const fields = {
          'local-member-id': local,
          'local-member-revision': rev,
          'local-member-compact-revision': crev,
          'local-member-hash': h,
          // etcd reads the id from the answer's header, which its handler leaves at 0.
          'remote-peer-id': p.resp.memberId.toString(16),
          'remote-peer-endpoints': p.eps,
          'remote-peer-revision': p.resp.revision,
          'remote-peer-compact-revision': p.resp.compactRevision,
          'remote-peer-hash': p.resp.hash,
        };
        if (h !== p.resp.hash) {
          if (crev === p.resp.compactRevision) {
            host.logger.warn(fields, 'found different hash values from remote peer');
            mismatch++;
          } else {
            host.logger.warn(fields, 'found different compact revision values from remote peer');
          }
        }
        continue;
      }
      const fields = {
        'local-member-id': local,
        'local-member-revision': rev,
        'local-member-compact-revision': crev,
        'local-member-hash': h,
        'remote-peer-id': p.id.toString(16),
        'remote-peer-endpoints': p.eps,
      };
      if (p.err === 'future-rev') host.logger.warn(fields, 'cannot fetch hash from slow remote peer');
      else if (p.err === 'compacted')
        host.logger.warn(fields, 'cannot fetch hash from remote peer; local member is behind');
    }
    if (mismatch > 0) throw new CorruptionError(`${local} found data inconsistency with peers`);
    host.logger.info({ 'local-member-id': local }, 'initial corruption checking passed; no corruption');
  }

  private maybeCheck(): void {
    const { host } = this;
    if (host.stopped()) {
      this.stop();
      return;
    }
    if (this.running || !host.isLeader()) return;
    this.running = true;
    this.checkHashKV()
      .catch((err: unknown) => host.logger.warn({ error: String(err) }, 'failed to check hash KV'))
      .finally(() => {
        this.running = false;
      });
  }

  /** etcd's checkHashKV: one pass on the leader; raises CORRUPT at most once per pass. */
  async checkHashKV(): Promise<void> {
    const { host } = this;
    const first = await host.hashByRev(0);
    const { hash: h, revision: rev, compactRevision: crev } = first;
    const peers = await this.peerHashes(rev);
    await host.readBarrier();
    const second = await host.hashByRev(0);
    const { hash: h2, revision: rev2, compactRevision: crev2 } = second;

    let alarmed = false;
    const mismatch = () => {
      if (alarmed) return;
      alarmed = true;
      host
        .raiseCorruptAlarm()
        .catch((err: unknown) =>
          host.logger.warn({ error: String(err) }, 'failed to raise the CORRUPT alarm'),
        );
    };
    if (h2 !== h && rev2 === rev && crev === crev2) {
      host.logger.warn(
        {
          'revision-1': rev,
          'compact-revision-1': crev,
          'hash-1': h,
          'revision-2': rev2,
          'compact-revision-2': crev2,
          'hash-2': h2,
        },
        'found hash mismatch',
      );
      mismatch();
    }
    let checked = 0;
    for (const p of peers) {
      if (!p.resp) continue;
      checked++;
      const peer = p.id.toString(16);
      if (p.resp.revision > rev2) {
        host.logger.warn(
          { 'leader-revision': rev2, 'follower-revision': p.resp.revision, 'follower-peer-id': peer },
          "revision from follower must be less than or equal to leader's",
        );
        mismatch();
      }
      if (p.resp.compactRevision > crev2) {
        host.logger.warn(
          {
            'leader-compact-revision': crev2,
            'follower-compact-revision': p.resp.compactRevision,
            'follower-peer-id': peer,
          },
          "compact revision from follower must be less than or equal to leader's",
        );
        mismatch();
      }
      if (p.resp.compactRevision === crev && p.resp.hash !== h) {
        host.logger.warn(
          {
            'leader-compact-revision': crev2,
            'leader-hash': h,
            'follower-compact-revision': p.resp.compactRevision,
            'follower-hash': p.resp.hash,
            'follower-peer-id': peer,
          },
          'same compact revision then hashes must match',
        );
        mismatch();
      }
    }
    host.logger.info({ 'number-of-peers-checked': checked }, 'finished peer corruption check');
  }

  /** etcd's getPeerHashKVs: every other member's hash at `rev`, trying each of its peer URLs. */
  private async peerHashes(rev: number): Promise<PeerHash[]> {
    const { host } = this;
    const out: PeerHash[] = [];
    for (const m of host.members()) {
      if (m.id === host.memberId || m.peerUrls.length === 0) continue;
      let last: PeerHash | undefined;
      for (const ep of m.peerUrls) {
        const p = await this.peerHash(m.id, m.peerUrls, ep, rev);
        last = p;
        if (p.resp) break;
        host.logger.warn(
          {
            'local-member-id': host.memberId.toString(16),
            'requested-revision': rev,
            'remote-peer-endpoint': ep,
            error: p.err === 'compacted' ? COMPACTED_TEXT : p.err === 'future-rev' ? FUTURE_REV_TEXT : p.err,
          },
          'failed hash kv request',
        );
      }
      if (last) out.push(last);
    }
    return out;
  }

  private async peerHash(id: bigint, eps: string[], ep: string, rev: number): Promise<PeerHash> {
    const url = `${ep.replace(/\/+$/, '')}${HASHKV_PEER_PATH}`;
    try {
      const { status, text } = await this.peerGet(
        url,
        JSON.stringify({ revision: rev }),
        this.host.cfg.requestTimeoutMs,
      );
      if (status === 400 && text.includes(COMPACTED_TEXT)) return { id, eps, err: 'compacted' };
      if (status === 400 && text.includes(FUTURE_REV_TEXT)) return { id, eps, err: 'future-rev' };
      if (status !== 200) return { id, eps, err: `unknown error: ${text}` };
      return { id, eps, resp: parseHashKvResponse(text) };
    } catch (err) {
      return { id, eps, err: (err as Error).message ?? String(err) };
    }
  }
}

/** A duration in milliseconds as Go's time.Duration prints it in logs (5s, 1m0s, 1.5s, 250ms). */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const totalS = ms / 1000;
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS - h * 3600) / 60);
  const s = Number((totalS - h * 3600 - m * 60).toFixed(9));
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Whether the member's WAL dir already holds files (etcd's isMemberInitialized: not a new member). */
export function walInitialized(walDir: string): boolean {
  try {
    return readdirSync(walDir).length > 0;
  } catch {
    return false;
  }
}
