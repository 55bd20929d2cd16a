// Goal: a member removed from the cluster ends its process as etcd 3.4's does: exit status 0, its
// last words etcd's ("server error" with "the member has been permanently removed from the
// cluster", then "data-dir used by this member must be removed"), its data dir left in place; the
// others keep serving. Both ways a member learns it: the removal entry applied while it runs, and
// peers refusing it (410) when it was down during the removal and is started again.
// Method: differential — the same steps on a 3-member etcd 3.4 cluster and a 3-member tsetcd
// cluster (test/helpers/cluster.ts, free ports, temp dirs, every process SIGKILLed in cleanup);
// exits are awaited with a deadline. Checked to fail: on the code before this change (a removed
// member's failure handled as a disk failure: "the member failed (disk)", exit status 1) both tsetcd
// cases fail on the exit status; etcd passes both.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import {
  kill,
  launch,
  type Proc,
  planCluster,
  startAll,
  stopAll,
  waitHealthy,
  whenHealthy,
} from '../helpers/cluster.js';
import { b, connect, haveCommand, type MemberKind, tempDir, waitFor } from '../helpers/index.js';

/** How long a removed member may take to notice and exit (etcd: at once, or after 1 s). */
const EXIT_TIMEOUT_MS = 30_000;

const KINDS: MemberKind[] = haveCommand('etcd') ? ['etcd', 'tsetcd'] : ['tsetcd'];

/** Removes `victim` through `via`; returns its member id. */
async function removeMember(via: Proc, victim: Proc): Promise<bigint> {
  const c = connect(via.client);
  try {
    const { members } = await c.cluster.memberList({});
    const id = members.find((m) => m.name === victim.name)?.ID;
    assert.ok(id !== undefined, `${victim.name} is listed`);
    await whenHealthy(() => c.cluster.memberRemove({ ID: id }));
    return id;
  } finally {
    c.close();
  }
}

async function exitCode(p: Proc): Promise<number> {
  return waitFor(() => p.child?.exitCode ?? undefined, {
    timeoutMs: EXIT_TIMEOUT_MS,
    intervalMs: 50,
    what: `${p.kind} ${p.name} to exit after its removal\n${p.log.slice(-3000)}`,
  });
}

/** The removed member's last log lines must be etcd's, and its data dir must still be there. */
function assertRemovedAsEtcd(p: Proc, code: number): void {
  assert.equal(code, 0, `${p.kind} exit status\n${p.log.slice(-3000)}`);
  assert.match(p.log, /the member has been permanently removed from the cluster/);
  assert.match(p.log, /data-dir used by this member must be removed/);
  assert.doesNotMatch(p.log, /the member failed \(disk\)/);
  assert.ok(existsSync(p.dataDir) && readdirSync(p.dataDir).length > 0, `${p.kind}: data dir left in place`);
}

/** The two members left keep serving: a put through each succeeds (after an election, if needed). */
async function assertServing(procs: Proc[]): Promise<void> {
  for (const p of procs.slice(0, 2)) {
    const c = connect(p.client);
    try {
      await waitFor(
        () =>
          c.kv.put({ key: b(`after-${p.name}`), value: b('v') }, { deadlineMs: 3_000 }).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 30_000, intervalMs: 200, what: `${p.kind} ${p.name} serves after the removal` },
      );
    } finally {
      c.close();
    }
  }
}

for (const kind of KINDS) {
  test(`${kind}: a member removed while running exits 0 and leaves its data dir`, {
    timeout: 120_000,
  }, async (t) => {
    const dir = tempDir(`removed-exit-${kind}-`);
    const procs = await planCluster(dir.path, 3, { kind, token: `removed-exit-${kind}` });
    t.after(async () => {
      await stopAll(procs);
      dir.remove();
    });
    await startAll(procs);
    const [m1, , m3] = procs as [Proc, Proc, Proc];
    await removeMember(m1, m3);
    assertRemovedAsEtcd(m3, await exitCode(m3));
    await assertServing(procs);
  });

  test(`${kind}: a member removed while down exits 0 when started again`, { timeout: 120_000 }, async (t) => {
    const dir = tempDir(`removed-down-${kind}-`);
    const procs = await planCluster(dir.path, 3, { kind, token: `removed-down-${kind}` });
    t.after(async () => {
      await stopAll(procs);
      dir.remove();
    });
    await startAll(procs);
    const [m1, , m3] = procs as [Proc, Proc, Proc];
    await kill(m3);
    // Two of three voters remain: etcd accepts a removal that leaves a quorum of the connected.
    await removeMember(m1, m3);
    await waitHealthy(m1);
    m3.log = '';
    launch(m3);
    assertRemovedAsEtcd(m3, await exitCode(m3));
    await assertServing(procs);
  });
}
