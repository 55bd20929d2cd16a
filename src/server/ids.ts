/**
 * Member and cluster ids, derived as etcd derives them so that the same flags give the same ids:
 * a member id is the first 8 bytes (big-endian) of SHA-1 over its sorted peer URLs joined with
 * nothing, then the cluster token (and, for a member added at runtime, the current unix time); the
 * cluster id is the first 8 bytes of SHA-1 over the sorted member ids, 8 bytes big-endian each.
 */
import { createHash } from 'node:crypto';

export function computeMemberId(peerUrls: string[], clusterToken: string, unixSeconds?: number): bigint {
  const parts =
    [...peerUrls].sort().join('') + clusterToken + (unixSeconds === undefined ? '' : String(unixSeconds));
  return createHash('sha1').update(parts).digest().readBigUInt64BE(0);
}

export function computeClusterId(memberIds: bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  for (let i = 0; i < sorted.length; i++) buf.writeBigUInt64BE(sorted[i]!, 8 * i);
  return createHash('sha1').update(buf).digest().readBigUInt64BE(0);
}
