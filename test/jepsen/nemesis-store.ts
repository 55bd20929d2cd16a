/**
 * Store (lmdb) disk faults for the nemesis (issue 16), through a member's failpoint server
 * (src/server/fault-control.ts `/store`, `/slow-disk`), registered in nemesis.ts's `disk` group:
 *
 * - `store-fsync-fail`  the next lmdb batch's fsync fails with EIO: the store is unusable, the member
 *                       acknowledges nothing more and exits (etcd: "failed to commit tx" is fatal);
 *                       restarted after the hold, it replays the WAL from the store's consistent index.
 * - `store-disk-full`   every lmdb batch fails with ENOSPC until healed; then restarted, as above.
 * - `slow-disk`         every WAL fdatasync and lmdb batch of one member (the leader half of the
 *                       time) takes 100-300 ms longer (0.1-1.9x each) for the hold: the member degrades
 *                       (slow commits, etcd's "slow fdatasync") but must neither lose nor reorder
 *                       anything, and nothing is restarted.
 * - `slow-disk-kill`    a slow data disk under the WAL's fast one (etcd's --wal-dir on its own disk):
 *                       every lmdb batch of one member 100-300 ms slower (0.1-1.9x each), so its store
 *                       falls behind its WAL with many batches in flight, and SIGKILL of that member
 *                       0.5-1.5 s into it; restarted (on a healthy disk) after the hold. Nothing
 *                       acknowledged may be lost: the WAL has it and the restarted member replays it
 *                       from the store's consistent index. A store whose batches can
 *                       overtake each other under the delay (the deliberately broken build,
 *                       TSETCD_FAILPOINT_BREAK_STORE_BATCH_ORDER=1) loses them here
 *                       (test/jepsen/slow-disk-kill.faults.test.ts).
 */
import type { Cluster, ClusterMember } from './cluster.js';
import type { Rng } from './rng.js';
import { now } from './workload.js';

/** The store fault kinds (nemesis.ts puts them in the disk group). */
export const STORE_FAULTS = ['store-fsync-fail', 'store-disk-full', 'slow-disk', 'slow-disk-kill'];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface FaultStatus {
  storeFaultsFired: number;
  slowFsyncs: number;
}

/**
 * Injects store fault `kind` on one member for `holdMs` (the leader or a random member, half and
 * half), then heals what needs more than the nemesis' `/reset`; returns the fault record's detail.
 */
export async function injectStoreFault(
  kind: string,
  c: Cluster,
  rng: Rng,
  leader: () => Promise<ClusterMember>,
  holdMs: number,
  stopped: () => boolean,
): Promise<string> {
  const m = rng.next() < 0.5 ? await leader() : rng.pick(c.members);
  const status = async (): Promise<FaultStatus> =>
    (await c.failpoint(m, '/status').catch(() => ({ storeFaultsFired: 0, slowFsyncs: 0 }))) as FaultStatus;
  const end = now() + holdMs;
  const hold = async () => {
    while (!stopped() && now() < end) await sleep(Math.min(100, end - now()));
  };
  if (kind === 'slow-disk') {
    const fsyncDelayMs = 100 + rng.int(201);
    const before = (await status()).slowFsyncs;
    await c.failpoint(m, '/slow-disk', { fsyncDelayMs });
    await hold();
    const slowed = (await status()).slowFsyncs - before;
    await c.failpoint(m, '/slow-disk', { fsyncDelayMs: 0 }).catch(() => {});
    return `fsyncs ${fsyncDelayMs} ms slower on ${m.name} for ${holdMs} ms: ${slowed} slowed`;
  }
  if (kind === 'slow-disk-kill') {
    const fsyncDelayMs = 100 + rng.int(201);
    const killAfterMs = 500 + rng.int(1001);
    const before = (await status()).slowFsyncs;
    await c.failpoint(m, '/slow-disk', { fsyncDelayMs, storeOnly: true });
    const killAt = now() + killAfterMs;
    while (!stopped() && now() < killAt) await sleep(Math.min(100, killAt - now()));
    const slowed = (await status()).slowFsyncs - before;
    await c.kill(m); // in the middle of delayed batches; the new process starts on a healthy disk
    await hold();
    c.restart(m);
    return `lmdb batches ${fsyncDelayMs} ms slower on ${m.name}, SIGKILL after ${killAfterMs} ms (${slowed} slowed), restarted after ${holdMs} ms`;
  }
  if (kind !== 'store-fsync-fail' && kind !== 'store-disk-full')
    throw new Error(`unknown store fault ${kind}`);
  const before = (await status()).storeFaultsFired;
  await c.failpoint(m, '/store', kind === 'store-fsync-fail' ? { failFsync: 'EIO' } : { diskFull: true });
  let fired = 0;
  while (!stopped() && now() < end && fired === 0) {
    await sleep(100);
    // A member whose store failed exits (as etcd does): then the fault fired.
    fired = c.alive(m) ? (await status()).storeFaultsFired - before : 1;
  }
  const exited = !c.alive(m);
  await hold();
  // A member whose store failed exits; a supervisor (here the nemesis) restarts it.
  await c.kill(m);
  c.restart(m);
  return `${kind === 'store-fsync-fail' ? 'lmdb fsync EIO' : 'ENOSPC on lmdb batches'} on ${m.name}: ${fired > 0 ? 'fired' : 'did not fire'}${exited ? ', the member exited' : ''}; restarted`;
}
