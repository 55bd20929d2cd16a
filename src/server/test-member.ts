/**
 * Test support, imported by tests only (never by the member): the configuration of a lone member
 * with no client or peer listeners, on a data dir the test made.
 */
import type { MemberConfig } from './config.js';

/** A single-member cluster in `dataDir`, defaults as etcd's, with `extra` on top. */
export function loneMemberConfig(dataDir: string, extra: Partial<MemberConfig> = {}): MemberConfig {
  return {
    name: 'm',
    dataDir,
    clientUrls: [],
    peerUrls: ['http://127.0.0.1:2380'],
    initialCluster: [],
    initialClusterToken: 't',
    maxRequestBytes: 1 << 20,
    maxTxnOps: 128,
    quotaBackendBytes: 0,
    ...extra,
  };
}
