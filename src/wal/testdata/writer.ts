/**
 * Crash-test child: opens (or creates) the WAL in argv[2], then runs argv[3] concurrent writers that
 * each append one entry at a time, continuously, and prints `ack <index> <term>` for every save
 * once it resolved (durable). argv[4] is this run's term (the parent's kill count); argv[5] the
 * segment size. Env TSETCD_WAL_FAILPOINTS="name=p,name=p" arms failpoints that SIGKILL this process
 * with probability p each time they are passed (seeded by TSETCD_WAL_SEED), aiming kills at
 * exact points (between write and fdatasync, during a segment cut). Runs until killed.
 */
import { SeededRng } from '../../pkg/rng.js';
import type { Entry } from '../../raft/types.js';
import { setFailpoint } from '../failpoint.js';
import { Wal } from '../wal.js';
import { crashEntry } from './crash-entry.js';

const [dir, writersArg, termArg, segArg] = process.argv.slice(2);
if (!dir || !writersArg || !termArg || !segArg) {
  process.stderr.write('usage: writer.js <wal-dir> <writers> <term> <segment-bytes>\n');
  process.exit(2);
}
const writers = Number(writersArg);
const term = Number(termArg);
const segmentBytes = Number(segArg);
const rng = new SeededRng(Number(process.env.TSETCD_WAL_SEED ?? term));
for (const spec of (process.env.TSETCD_WAL_FAILPOINTS ?? '').split(',').filter(Boolean)) {
  const [name, p] = spec.split('=');
  const prob = Number(p);
  setFailpoint(name!, () => {
    if (rng.next() < prob) process.kill(process.pid, 'SIGKILL');
  });
}

async function main(): Promise<void> {
  const opts = { segmentBytes };
  let wal: Wal;
  let next: number;
  try {
    const r = await Wal.open(dir!, opts);
    wal = r.wal;
    next = r.entries.length === 0 ? (r.snapshot?.index ?? 0) + 1 : r.entries[r.entries.length - 1]!.index + 1;
  } catch (e) {
    if ((e as { code?: string }).code !== 'not-found') throw e;
    wal = await Wal.create(dir!, { memberId: 1n, clusterId: 2n }, opts);
    next = 1;
  }
  process.stdout.write(`ready ${next - 1}\n`);
  const one = async (): Promise<void> => {
    for (;;) {
      const idx = next++;
      const e: Entry = crashEntry(idx, term);
      await wal.save({ term, vote: 1n, commit: idx - 1 }, [e]);
      process.stdout.write(`ack ${idx} ${term}\n`);
    }
  };
  await Promise.all(Array.from({ length: writers }, one));
}

main().catch((e) => {
  process.stderr.write(`writer failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
