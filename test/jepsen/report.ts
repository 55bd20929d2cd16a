/**
 * Renders a run's summary as the results table of docs/RELIABILITY.md, replacing what is between
 * the `<!-- jepsen:begin -->` and `<!-- jepsen:end -->` markers (the rest of the document is prose).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { RunSummary } from './runner.js';

const BEGIN = '<!-- jepsen:begin -->';
const END = '<!-- jepsen:end -->';

export function renderTable(s: RunSummary, when = new Date()): string {
  const faults = Object.entries(s.faultsInjected)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
  const total = Object.values(s.faultsInjected).reduce((a, b) => a + b, 0);
  const rows: [string, string][] = [
    [
      'Run',
      `${when.toISOString().slice(0, 16)}Z, seed ${s.seed}, 3 member processes, ${(s.durationMs / 1000).toFixed(0)} s of workload`,
    ],
    ['Faults injected', `${total}: ${faults || 'none'}`],
    [
      'Operations',
      `${s.ops.total} (${Object.entries(s.ops.byType)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`,
    ],
    ['Outcomes', `ok ${s.ops.ok}, failed ${s.ops.fail}, unknown ${s.ops.unknown}`],
    [
      'Multi-key transactions (list-append)',
      `${s.txns.total}: ok ${s.txns.ok}, failed ${s.txns.fail}, unknown ${s.txns.unknown}`,
    ],
    ['Watch events delivered', String(s.watchEvents)],
    [
      'Compactions during the run',
      `${s.compactions}; watchers ended by etcd's compacted error: ${s.watchersCompacted}`,
    ],
    ['Lease keys expired (checked)', String(s.leaseKeysExpired)],
    ['Final revision', String(s.finalRevision)],
    [
      'Cluster (all processes)',
      `leader changes ${s.cluster.etcd_server_leader_changes_seen_total ?? '?'}, snapshots sent ${
        s.cluster.etcd_network_snapshot_send_success ?? '?'
      }, received ${s.cluster.etcd_network_snapshot_receive_success ?? '?'}`,
    ],
    ['Restarted members that exited by themselves', String(s.exitedAtStart.length)],
    [
      'Membership changes',
      Object.entries(s.membershipChanges ?? {})
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none',
    ],
    [
      'Removed members restarted on old data',
      `${s.removedMembers?.restarted ?? 0}: told removed ${s.removedMembers?.toldRemoved ?? 0}, served anything ${s.removedMembers?.served ?? 0}`,
    ],
    [
      'Leader per term (Status polls)',
      `${s.statusPolls ?? 0} polls, ${s.leaderTerms ?? 0} terms with a leader`,
    ],
    ['Violations', String(s.violations)],
    ['Undecided checks', String(s.undecided)],
  ];
  const checks = s.checks.map((c) => `| ${c.checker} | ${c.checked} | ${c.violations} | ${c.undecided} |`);
  return [
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '| Checker | Items checked | Violations | Undecided |',
    '|---|---|---|---|',
    ...checks,
  ].join('\n');
}

export function updateReliabilityDoc(path: string, s: RunSummary): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : `# Reliability\n\n${BEGIN}\n${END}\n`;
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${path} has no ${BEGIN} ... ${END} section`);
  writeFileSync(path, `${text.slice(0, a + BEGIN.length)}\n${renderTable(s)}\n${text.slice(b)}`);
}
