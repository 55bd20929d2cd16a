// Goal: membership changes under faults (issue 16), as etcd's robustness suite runs them: members
// removed, added as voters and as learners, promoted, replaced by fresh members with empty data
// dirs, and a member removed while down and restarted on its old data — while kills, pauses and
// partitions happen at the same time. Method: the Jepsen runner (test/jepsen/runner.ts) with the
// `membership` fault group combined with the process and network groups; every checker must be
// clean, including checkers/membership.ts: at most one leader per Raft term across every member's
// Status polled during the run, and a removed member told it was removed, serving nothing. The run
// must have changed the membership (adds, a promote, removes) so an idle run cannot pass.
// Long: `npm run jepsen -- --faults membership,process,network --combine --duration 600`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAULT_GROUPS } from './nemesis.js';
import { problemsOf, runJepsen } from './runner.js';

const SEED = Number(process.env.JEPSEN_SEED ?? 20261203);

test('membership changes with kills, pauses and partitions at once: no violations', {
  timeout: 300_000,
}, async () => {
  const r = await runJepsen({
    seed: SEED,
    durationMs: 20_000,
    faults: [...FAULT_GROUPS.membership!, ...FAULT_GROUPS.process!, ...FAULT_GROUPS.network!],
    gapMs: [300, 800],
    holdMs: [800, 2000],
    combineFaults: true,
    compactEveryMs: 3000,
    log: (l) => process.stderr.write(`[jepsen] ${l}\n`),
  });
  const s = r.summary;
  const problems = problemsOf(r);
  assert.deepEqual(problems.slice(0, 20), [], `seed ${s.seed}: ${JSON.stringify(s)}`);
  const changes = s.membershipChanges;
  assert.ok((changes.remove ?? 0) >= 1, `no member removed: ${JSON.stringify(s.faultsInjected)}`);
  assert.ok(
    (changes['add-voter'] ?? 0) + (changes['add-learner'] ?? 0) >= 1,
    `no member added: ${JSON.stringify(changes)}`,
  );
  assert.ok(s.statusPolls >= 50, `too few Status polls: ${s.statusPolls}`);
  assert.ok(s.ops.ok >= 50, `too few successful operations: ${JSON.stringify(s.ops)}`);
  const membershipFaults = r.history.faults.filter((f) => FAULT_GROUPS.membership!.includes(f.kind));
  for (const f of membershipFaults) assert.doesNotMatch(f.detail, /injection error/, f.detail);
});
