// Goal: /metrics speaks etcd's metric families: every family tsetcd exposes that etcd 3.4 also
// exposes has etcd's type, etcd's label names in etcd's order and etcd's histogram buckets; the
// families etcd's dashboards and alert rules (the etcd-mixin) read are there, on one member and on a
// member of a 3-member cluster; and every series the etcd-mixin's alert expressions select resolves
// (is exposed with the labels the expression filters and groups by).
// Method: scrape fresh etcd 3.4 and tsetcd members (and 3-member clusters of each after the same
// lease, defrag and snapshot calls), parse families, compare. Every required list is checked
// against etcd first (so it cannot drift), except the few families etcd prints only after an event
// (marked below).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { type Proc, planCluster, startAll, stopAll } from '../helpers/cluster.js';
import { startMember } from '../helpers/index.js';
import { tempDir, waitFor } from '../helpers/util.js';
import { type FamilyShape, shapes } from './metrics-shape.js';

/** Families the etcd-mixin's dashboards and alerts use that a single member exposes. */
const MIXIN_FAMILIES = [
  'etcd_server_has_leader',
  'etcd_server_is_leader',
  'etcd_server_leader_changes_seen_total',
  'etcd_server_proposals_committed_total',
  'etcd_server_proposals_applied_total',
  'etcd_server_proposals_pending',
  'etcd_server_proposals_failed_total',
  'etcd_server_version',
  'etcd_cluster_version',
  'etcd_server_id',
  'etcd_server_is_learner',
  'etcd_server_quota_backend_bytes',
  'etcd_disk_wal_fsync_duration_seconds',
  'etcd_disk_backend_commit_duration_seconds',
  'etcd_mvcc_db_total_size_in_bytes',
  'etcd_mvcc_db_total_size_in_use_in_bytes',
  'etcd_debugging_mvcc_keys_total',
  'etcd_debugging_mvcc_db_total_size_in_bytes',
  'etcd_debugging_mvcc_current_revision',
  'etcd_debugging_mvcc_compact_revision',
  'etcd_debugging_mvcc_watcher_total',
  'etcd_debugging_mvcc_watch_stream_total',
  'etcd_debugging_mvcc_slow_watcher_total',
  'etcd_debugging_mvcc_events_total',
  'grpc_server_started_total',
  'grpc_server_handled_total',
  'grpc_server_msg_received_total',
  'grpc_server_msg_sent_total',
  'etcd_network_client_grpc_received_bytes_total',
  'etcd_network_client_grpc_sent_bytes_total',
  'etcd_debugging_lease_granted_total',
  'etcd_debugging_lease_revoked_total',
  'etcd_debugging_lease_renewed_total',
  'etcd_debugging_lease_ttl_total',
  'etcd_debugging_server_lease_expired_total',
  'etcd_disk_backend_defrag_duration_seconds',
  'etcd_disk_defrag_inflight',
  'etcd_disk_backend_snapshot_duration_seconds',
  'etcd_debugging_snap_save_total_duration_seconds',
  'etcd_debugging_snap_save_marshalling_duration_seconds',
  'etcd_snap_fsync_duration_seconds',
  'etcd_snap_db_save_total_duration_seconds',
  'etcd_snap_db_fsync_duration_seconds',
  'etcd_server_health_success',
  'etcd_server_health_failures',
  'etcd_mvcc_hash_duration_seconds',
  'etcd_mvcc_hash_rev_duration_seconds',
  'etcd_server_snapshot_apply_in_progress_total',
  'process_resident_memory_bytes',
  'process_open_fds',
  'process_max_fds',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'os_fd_used',
  'os_fd_limit',
];

/** Peer families on a member of a cluster. */
const PEER_FAMILIES = [
  'etcd_network_peer_sent_bytes_total',
  'etcd_network_peer_received_bytes_total',
  'etcd_network_active_peers',
  // etcd 3.4 prints these only once a send or receive failed, or after its 30 s RTT monitor ran:
  'etcd_network_peer_sent_failures_total',
  'etcd_network_peer_received_failures_total',
  'etcd_network_peer_round_trip_time_seconds',
];
const ETCD_AFTER_EVENT = new Set(PEER_FAMILIES.slice(3));

/**
 * The series the etcd-mixin's alert expressions select on a member (etcd 3.4's mixin), with the
 * labels each expression filters or groups by. Left out: `up` (Prometheus's own),
 * grpc_server_handling_seconds (etcd only with --metrics=extensive) and the v2 etcd_http_* families.
 */
const MIXIN_ALERT_SERIES: { alert: string; series: string; labels: string[] }[] = [
  { alert: 'etcdMembersDown', series: 'etcd_network_peer_sent_failures_total', labels: ['To'] },
  { alert: 'etcdNoLeader', series: 'etcd_server_has_leader', labels: [] },
  { alert: 'etcdHighNumberOfLeaderChanges', series: 'etcd_server_leader_changes_seen_total', labels: [] },
  {
    alert: 'etcdHighNumberOfFailedGRPCRequests',
    series: 'grpc_server_handled_total',
    labels: ['grpc_code', 'grpc_service', 'grpc_method'],
  },
  {
    alert: 'etcdMemberCommunicationSlow',
    series: 'etcd_network_peer_round_trip_time_seconds',
    labels: ['To'],
  },
  { alert: 'etcdHighNumberOfFailedProposals', series: 'etcd_server_proposals_failed_total', labels: [] },
  { alert: 'etcdHighFsyncDurations', series: 'etcd_disk_wal_fsync_duration_seconds', labels: [] },
  { alert: 'etcdHighCommitDurations', series: 'etcd_disk_backend_commit_duration_seconds', labels: [] },
];

async function scrape(clientURL: string): Promise<Map<string, FamilyShape>> {
  return shapes(await (await fetch(`${clientURL}/metrics`)).text());
}

/** Families in both whose type, label names (in order) or buckets differ. */
function differences(ef: Map<string, FamilyShape>, tf: Map<string, FamilyShape>): string[] {
  const out: string[] = [];
  for (const [n, t] of tf) {
    const e = ef.get(n);
    if (!e) continue;
    if (e.type !== t.type) out.push(`${n}: type ${t.type}, etcd: ${e.type}`);
    // Compare label-name lists only where both printed samples (an unobserved vec prints none).
    const el = [...e.labelSets].filter((s) => s !== '');
    const tl = [...t.labelSets].filter((s) => s !== '');
    if (el.length > 0 && tl.length > 0 && el.join('|') !== tl.join('|')) {
      out.push(`${n}: labels ${tl.join('|')}, etcd: ${el.join('|')}`);
    }
    // Bounds compared as numbers: Go prints 1048576 as 1.048576e+06, JavaScript as 1048576; both
    // parse to the same bound (histogram_quantile reads `le` as a float).
    const num = (b: string[]) => b.map((x) => Number(x)).join(' ');
    if (e.buckets.length > 0 && t.buckets.length > 0 && num(e.buckets) !== num(t.buckets)) {
      out.push(`${n}: buckets ${t.buckets.join(' ')}, etcd: ${e.buckets.join(' ')}`);
    }
  }
  return out;
}

test('metrics: etcd families with etcd types, labels and buckets, and every family the etcd-mixin reads', async (t) => {
  const [etcd, tsetcd] = await Promise.all([startMember('etcd', { t }), startMember('tsetcd', { t })]);
  const [ef, tf] = await Promise.all([scrape(etcd.clientURL), scrape(tsetcd.clientURL)]);
  for (const name of MIXIN_FAMILIES) assert.ok(ef.has(name), `the list is wrong: etcd 3.4 has no ${name}`);
  const missing = MIXIN_FAMILIES.filter((n) => !tf.has(n));
  assert.deepEqual(missing, [], 'families the etcd-mixin reads that tsetcd lacks');
  assert.deepEqual(differences(ef, tf), [], 'families whose type, labels or buckets differ from etcd');
});

test('metrics on a 3-member cluster: peer families, lease/defrag/snapshot counts, mixin alert series', async () => {
  const dir = tempDir('tsetcd-metrics-');
  const clusters: Proc[][] = [];
  try {
    const pages: Map<string, FamilyShape>[] = [];
    for (const kind of ['etcd', 'tsetcd'] as const) {
      const procs = await planCluster(dir.path, 3, {
        kind,
        dataDir: (_i, name) => `${dir.path}/${kind}-${name}`,
      });
      clusters.push(procs);
      await startAll(procs);
      const ep = procs[0]!.client;
      const ctl = (...a: string[]) =>
        execFileSync('etcdctl', ['--endpoints', ep, ...a], {
          env: { ...process.env, ETCDCTL_API: '3' },
        }).toString();
      ctl('put', 'a', 'b');
      const lease = ctl('lease', 'grant', '100').split(' ')[1]!;
      ctl('lease', 'revoke', lease);
      ctl('defrag');
      ctl('endpoint', 'hashkv');
      await fetch(`http://${ep}/health`);
      execFileSync('etcdctl', ['--endpoints', ep, 'snapshot', 'save', `${dir.path}/${kind}.db`], {
        env: { ...process.env, ETCDCTL_API: '3' },
        stdio: 'ignore',
      });
      // A round trip is observed at the first liveness ping after the links came up.
      const rtt = (f: Map<string, FamilyShape>) =>
        (f.get('etcd_network_peer_round_trip_time_seconds')?.samples.length ?? 0) > 0;
      pages.push(
        kind === 'etcd'
          ? await scrape(`http://${ep}`)
          : await waitFor(
              async () => {
                const f = await scrape(`http://${ep}`);
                return rtt(f) && f;
              },
              { timeoutMs: 20_000, what: 'a peer round trip observed' },
            ),
      );
      await stopAll(procs);
    }
    const [ef, tf] = pages as [Map<string, FamilyShape>, Map<string, FamilyShape>];
    for (const name of PEER_FAMILIES) {
      if (!ETCD_AFTER_EVENT.has(name)) assert.ok(ef.has(name), `the list is wrong: etcd 3.4 has no ${name}`);
    }
    assert.deepEqual(
      PEER_FAMILIES.filter((n) => !tf.has(n)),
      [],
      'peer families tsetcd lacks',
    );
    assert.deepEqual(differences(ef, tf), [], 'families whose type, labels or buckets differ from etcd');
    const count = (f: Map<string, FamilyShape>, name: string, suffix = '') =>
      f
        .get(name)
        ?.samples.filter((s) => s.suffix === suffix)
        .reduce((a, s) => a + s.value, 0);
    // The same calls counted the same way as etcd counts them on the member that was asked.
    for (const [name, suffix] of [
      ['etcd_debugging_lease_granted_total', ''],
      ['etcd_debugging_lease_revoked_total', ''],
      ['etcd_disk_backend_defrag_duration_seconds', '_count'],
      ['etcd_disk_backend_snapshot_duration_seconds', '_count'],
      ['etcd_mvcc_hash_rev_duration_seconds', '_count'],
    ] as const) {
      assert.equal(count(tf, name, suffix), count(ef, name, suffix), `${name}${suffix}`);
      assert.equal(count(tf, name, suffix), 1, `${name}${suffix}`);
    }
    for (const dir of ['To', 'From'] as const) {
      const name =
        dir === 'To' ? 'etcd_network_peer_sent_bytes_total' : 'etcd_network_peer_received_bytes_total';
      // One series per peer; bytes flow at least with the leader (a follower has nothing to say to
      // the other follower).
      const peers = tf.get(name)!.samples.filter((s) => s.labels[dir] !== undefined);
      assert.equal(peers.length, 2, `${name}: a series per peer`);
      assert.ok(
        peers.some((s) => s.value > 0),
        `${name}: bytes counted`,
      );
    }
    assert.ok(
      (count(tf, 'etcd_network_peer_round_trip_time_seconds', '_count') ?? 0) >= 1,
      'a round trip observed',
    );
    assert.ok((count(tf, 'grpc_server_msg_received_total') ?? 0) >= 1);
    assert.ok((count(tf, 'etcd_server_health_success') ?? 0) >= 1, 'the /health answer counted');
    assert.ok((count(tf, 'etcd_network_client_grpc_received_bytes_total') ?? 0) > 0);
    for (const a of MIXIN_ALERT_SERIES) {
      for (const [kind, f] of [
        ['etcd', ef],
        ['tsetcd', tf],
      ] as const) {
        const fam = f.get(a.series);
        if (kind === 'etcd' && ETCD_AFTER_EVENT.has(a.series) && !fam) continue;
        assert.ok(fam, `${a.alert}: ${kind} has no ${a.series}`);
        const withLabels = fam.samples.filter((s) => a.labels.every((l) => s.labels[l] !== undefined));
        assert.ok(
          withLabels.length > 0,
          `${a.alert}: ${kind}'s ${a.series} has no sample with ${a.labels.join(', ')}`,
        );
      }
    }
    // etcdNoLeader stays quiet on a healthy member: etcd_server_has_leader == 0 selects nothing.
    assert.equal(tf.get('etcd_server_has_leader')!.samples[0]!.value, 1);
  } finally {
    for (const c of clusters) await stopAll(c);
    dir.remove();
  }
});
