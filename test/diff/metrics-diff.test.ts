// Goal: /metrics speaks etcd's metric families: every family tsetcd exposes that etcd 3.4 also
// exposes has etcd's type, and the families etcd's dashboards and alert rules (the etcd-mixin) read
// on a single member are there. Method: scrape a fresh etcd 3.4 and a fresh tsetcd, parse the
// `# TYPE` lines, compare; the required list is checked against etcd first (so it cannot drift).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startMember } from '../helpers/index.js';

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
  'process_resident_memory_bytes',
  'process_open_fds',
  'process_max_fds',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'os_fd_used',
  'os_fd_limit',
];

async function families(clientURL: string): Promise<Map<string, string>> {
  const text = await (await fetch(`${clientURL}/metrics`)).text();
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

test('metrics: etcd families with etcd types, and every family the etcd-mixin reads', async (t) => {
  const [etcd, tsetcd] = await Promise.all([startMember('etcd', { t }), startMember('tsetcd', { t })]);
  const [ef, tf] = await Promise.all([families(etcd.clientURL), families(tsetcd.clientURL)]);
  for (const name of MIXIN_FAMILIES) assert.ok(ef.has(name), `the list is wrong: etcd 3.4 has no ${name}`);
  const missing = MIXIN_FAMILIES.filter((n) => !tf.has(n));
  assert.deepEqual(missing, [], 'families the etcd-mixin reads that tsetcd lacks');
  const wrongType = [...tf]
    .filter(([n, type]) => ef.has(n) && ef.get(n) !== type)
    .map(([n, type]) => `${n}: ${type}, etcd: ${ef.get(n)}`);
  assert.deepEqual(wrongType, [], 'families whose type differs from etcd');
});
