/**
 * The member's own endpoints on the peer port, next to the transport's /raft paths, one path per
 * purpose, and the client side that calls them on other members:
 *
 *   GET  /members          the member table (etcd's /members), read by a member joining the cluster
 *   POST /tsetcd/lease     a follower asks the leader to renew a lease or for its remaining TTL
 *   POST /tsetcd/promote   a follower hands MemberPromote to the leader (only it knows the progress)
 *
 * Answers: 200 with a JSON body; 503 when this member is not (or no longer) the leader; 409 with the
 * name of a wire-error row (src/wire/errors.ts) for a refusal the caller must pass on as it is;
 * 500 otherwise. The caller checks a 409's name against the table before it uses it.
 */
import { type PeerServer, TransportError } from '../transport/index.js';
import { EtcdError, etcdError, type WireErrorName, wireErrors } from '../wire/errors.js';
import type { PeerFetch } from './config.js';

/** The peer-port path listing the members (as etcd's /members), read by joining members. */
export const MEMBERS_PEER_PATH = '/members';
/** The peer-port path where followers ask the leader about leases. */
export const LEASE_PEER_PATH = '/tsetcd/lease';
/** The peer-port path where followers hand a MemberPromote to the leader. */
export const PROMOTE_PEER_PATH = '/tsetcd/promote';

/** The /members answer. */
export interface MembersAnswer {
  clusterId: string;
  members: { id: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }[];
}

/** What the endpoints need from the member. */
export interface PeerHttpHost {
  clusterId: bigint;
  members(): { id: bigint; name: string; peerUrls: string[]; clientUrls: string[]; isLearner: boolean }[];
  /** Whether this member leads and serves (else the endpoints answer 503). */
  isServingLeader(): boolean;
  renewLease(id: bigint): Promise<number>;
  leaseTimeToLive(id: bigint): Promise<{ ttl: number; granted: number }>;
  promote(id: bigint): Promise<void>;
}

/** Registers the member's endpoints on the peer port's server. */
export function servePeerHttp(server: PeerServer, host: PeerHttpHost): void {
  server.handle(MEMBERS_PEER_PATH, (_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-etcd-cluster-id': host.clusterId.toString(16),
    });
    res.end(JSON.stringify(membersAnswer(host)));
  });
  server.handle(LEASE_PEER_PATH, (req, res) => {
    readJson(req, (body) => {
      if (!host.isServingLeader()) return reply(res, 503, '');
      const { op, id } = body as { op: string; id: string };
      const lease = BigInt(id);
      const answer =
        op === 'renew'
          ? host.renewLease(lease).then((ttl) => ({ ttl, granted: 0 }))
          : host.leaseTimeToLive(lease);
      answer.then(
        (out) => reply(res, 200, JSON.stringify(out)),
        // Not (or no longer) the leader: the follower answers "not leader"; anything else times out.
        (err: unknown) =>
          reply(res, err instanceof EtcdError && err.kind === 'notLeader' ? 503 : 500, String(err)),
      );
    });
  });
  server.handle(PROMOTE_PEER_PATH, (req, res) => {
    readJson(req, (body) => {
      if (!host.isServingLeader()) return reply(res, 503, '');
      host.promote(BigInt((body as { id: string }).id)).then(
        () => reply(res, 200, '{}'),
        (err: unknown) =>
          err instanceof EtcdError ? reply(res, 409, err.kind) : reply(res, 500, String(err)),
      );
    });
  });
}

function membersAnswer(host: PeerHttpHost): MembersAnswer {
  return {
    clusterId: host.clusterId.toString(16),
    members: host.members().map((m) => ({
      id: m.id.toString(16),
      name: m.name,
      peerURLs: m.peerUrls,
      clientURLs: m.clientUrls,
      isLearner: m.isLearner,
    })),
  };
}

type Res = Parameters<Parameters<PeerServer['handle']>[1]>[1];
type Req = Parameters<Parameters<PeerServer['handle']>[1]>[0];

function reply(res: Res, status: number, body: string): void {
  res.writeHead(status, status === 200 ? { 'content-type': 'application/json' } : {});
  res.end(body);
}

function readJson(req: Req, then: (body: unknown) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = {};
    }
    then(body);
  });
}

/** The HTTP client used to reach other members (the global fetch unless a test gives another). */
export type FetchFn = PeerFetch;

/** Calls other members' peer endpoints. */
export class PeerHttpClient {
  constructor(
    private readonly timeoutMs: number,
    private readonly fetchFn: FetchFn = fetch,
  ) {}

  /** A peer's member table (for a join); throws when it cannot be read. */
  async members(peerUrl: string): Promise<MembersAnswer> {
    const res = await this.fetchFn(`${base(peerUrl)}${MEMBERS_PEER_PATH}`, {
      signal: AbortSignal.timeout(2000),
    });
    if (!res.ok)
      throw new TransportError('unexpected-status', `${res.status} from ${peerUrl}${MEMBERS_PEER_PATH}`);
    return (await res.json()) as MembersAnswer;
  }

  /** Asks the leader at `leaderUrl` to renew lease `id` (`op` renew) or for its TTL (`op` ttl). */
  async lease(leaderUrl: string, op: 'renew' | 'ttl', id: bigint): Promise<{ ttl: number; granted: number }> {
    const res = await this.post(`${base(leaderUrl)}${LEASE_PEER_PATH}`, { op, id: id.toString() });
    return (await res.json()) as { ttl: number; granted: number };
  }

  /** Hands MemberPromote of `id` to the leader at `leaderUrl`; throws the leader's etcd error. */
  async promote(leaderUrl: string, id: bigint): Promise<void> {
    await this.post(`${base(leaderUrl)}${PROMOTE_PEER_PATH}`, { id: id.toString() });
  }

  private async post(url: string, body: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method: 'POST',
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch {
      throw etcdError('timeout');
    }
    if (res.status === 409) throw etcdError(wireErrorName(await res.text()));
    if (res.status !== 200) throw etcdError(res.status === 503 ? 'notLeader' : 'timeout');
    return res;
  }
}

/** A row name a peer sent, if the table has it; anything else becomes "request timed out". */
export function wireErrorName(name: string): WireErrorName {
  return Object.hasOwn(wireErrors, name) ? (name as WireErrorName) : 'timeout';
}

function base(url: string): string {
  return url.replace(/\/+$/, '');
}
