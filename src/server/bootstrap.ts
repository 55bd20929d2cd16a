/**
 * Who a member is and what it opens at start: the store's options, and the identity (member id,
 * cluster id, initial member table) fixed at the first start and read back from the data dir after.
 *
 * A new member of a new cluster derives its ids from the flags as etcd does; a member joining an
 * existing cluster (--initial-cluster-state existing) asks the other members, over the peer port's
 * /members, for the id `member add` gave it, and checks --initial-cluster against their answer with
 * etcd's words.
 */
import type { MvccOpCounters, MvccStore, MvccStoreOptions } from '../mvcc/index.js';
import type { ResolvedConfig } from './config.js';
import { computeClusterId, computeMemberId } from './ids.js';
import type { Logger } from './logger.js';
import type { MembersAnswer } from './peer-http.js';

/** Who this member is: fixed at its first start, then read back from its data dir. */
export interface Identity {
  memberId: bigint;
  clusterId: bigint;
  members: { id: bigint; name: string; peerUrls: string[]; clientUrls?: string[]; isLearner?: boolean }[];
}

/**
 * The member's store: the WAL makes every applied entry durable and the store is replayed from its
 * applied index after a crash, so it need not fsync per write; it commits to lmdb once per batch
 * interval, as etcd's backend does, leaving the disk's fsyncs to the WAL.
 */
export function storeOptions(
  cfg: ResolvedConfig,
  onBatchCommitted: (seconds: number) => void,
  logger: Logger,
  opCounters?: MvccOpCounters,
): MvccStoreOptions {
  return {
    dir: cfg.layout.storeDir,
    sync: false,
    batchIntervalMs: cfg.backendBatchIntervalMs,
    onBatchCommitted,
    logger,
    opCounters,
    faults: cfg.storeFaults,
  };
}

/** Reads a peer's /members (the peer-HTTP part's client); throws when the peer cannot answer. */
export type FetchMembers = (peerUrl: string) => Promise<MembersAnswer>;

/**
 * Who this member is. Its data dir remembers (written at the first start); a new member of a new
 * cluster derives ids from the flags as etcd does; a member joining an existing cluster asks the
 * other members (their /members on the peer port) for the id `member add` gave it.
 */
export async function resolveIdentity(
  cfg: ResolvedConfig,
  store: MvccStore,
  logger: Logger,
  fetchMembers: FetchMembers,
): Promise<Identity> {
  const saved = store.auxRecords(IDENTITY_KEY)[0];
  const initial =
    cfg.initialCluster.length > 0 ? cfg.initialCluster : [{ name: cfg.name, peerUrls: cfg.peerUrls }];
  let identity: Identity;
  if (saved) {
    const j = JSON.parse(saved.value.toString('utf8')) as { memberId: string; clusterId: string };
    // The member table is in the store too; the flags only fill it if it was never written.
    const members = initial.map((m) => ({
      id: computeMemberId(m.peerUrls, cfg.initialClusterToken),
      name: m.name,
      peerUrls: m.peerUrls,
    }));
    identity = { memberId: BigInt(`0x${j.memberId}`), clusterId: BigInt(`0x${j.clusterId}`), members };
  } else if (cfg.initialClusterState === 'existing') {
    identity = await fetchIdentity(cfg, initial, logger, fetchMembers);
  } else {
    const members = initial.map((m) => ({
      id: computeMemberId(m.peerUrls, cfg.initialClusterToken),
      name: m.name,
      peerUrls: m.peerUrls,
    }));
    identity = {
      memberId: computeMemberId(cfg.peerUrls, cfg.initialClusterToken),
      clusterId: computeClusterId(members.map((m) => m.id)),
      members,
    };
  }
  if (!saved) saveIdentity(store, identity);
  return identity;
}

/** Writes this member's id and cluster id into the store, where a restart reads them back. */
export function saveIdentity(store: MvccStore, identity: Identity): void {
  const txn = store.write(store.consistentIndex);
  store.setAux(
    IDENTITY_KEY,
    Buffer.from(
      JSON.stringify({
        memberId: identity.memberId.toString(16),
        clusterId: identity.clusterId.toString(16),
      }),
    ),
  );
  txn.end();
}

const IDENTITY_KEY = Buffer.from('identity');

async function fetchIdentity(
  cfg: ResolvedConfig,
  initial: { name: string; peerUrls: string[] }[],
  logger: Logger,
  fetchMembers: FetchMembers,
): Promise<Identity> {
  const others = initial.filter((m) => m.name !== cfg.name).flatMap((m) => m.peerUrls);
  for (const url of others) {
    try {
      const j = await fetchMembers(url);
      const members = j.members.map((m) => ({
        id: BigInt(`0x${m.id}`),
        name: m.name,
        peerUrls: m.peerURLs,
        clientUrls: m.clientURLs,
        isLearner: m.isLearner,
      }));
      validateAgainstExisting(initial, members, j.clusterId);
      const self = members.find((m) => m.peerUrls.some((u) => cfg.peerUrls.includes(u)));
      if (!self) {
        throw new BootstrapError(
          `member ${cfg.name} (${cfg.peerUrls.join(',')}) has not been added to the cluster: run 'member add' first`,
        );
      }
      logger.info(
        { 'member-id': self.id.toString(16), 'cluster-id': j.clusterId, from: url },
        'joining an existing cluster',
      );
      return { memberId: self.id, clusterId: BigInt(`0x${j.clusterId}`), members };
    } catch (err) {
      if (err instanceof BootstrapError) throw err;
      logger.warn({ url, err: String(err) }, 'could not read the member list from a peer');
    }
  }
  // etcd's wording.
  throw new Error(
    'cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs',
  );
}

/** A join refused for good (retrying other peers cannot help). */
export class BootstrapError extends Error {}

/**
 * etcd's check of --initial-cluster against the cluster a joining member contacts: the same number of
 * members, and every existing member's peer URLs among the flags' ("member count is unequal",
 * "PeerURLs: no match found for existing member").
 */
export function validateAgainstExisting(
  initial: { name: string; peerUrls: string[] }[],
  existing: { id: bigint; peerUrls: string[] }[],
  clusterIdHex: string,
): void {
  const describe = () =>
    `{ClusterID:${clusterIdHex} Members:[${existing.map((m) => `${m.id.toString(16)}=${m.peerUrls.join(',')}`).join(' ')}]}`;
  if (existing.length !== initial.length) {
    throw new BootstrapError(`error validating peerURLs ${describe()}: member count is unequal`);
  }
  const same = (a: string[], b: string[]) => [...a].sort().join(',') === [...b].sort().join(',');
  for (const m of existing) {
    if (!initial.some((l) => same(l.peerUrls, m.peerUrls))) {
      throw new BootstrapError(
        `error validating peerURLs ${describe()}: PeerURLs: no match found for existing member (${m.id.toString(16)}, [${m.peerUrls.join(' ')}]), last resolver error (<nil>)`,
      );
    }
  }
}
