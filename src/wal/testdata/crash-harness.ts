/**
 * Crash-test driver shared by crash.test.ts (short) and crash.faults.test.ts (long): starts the
 * writer child (dist/src/wal/testdata/writer.js), lets it acknowledge a random number of saves,
 * SIGKILLs it, reopens the WAL in this process and checks that every acknowledged entry is
 * present, intact and that the log is gap-free; repeats `kills` times on the same directory.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRng } from '../../pkg/rng.js';
import { Wal } from '../wal.js';
import { crashEntry } from './crash-entry.js';

const WRITER = fileURLToPath(new URL('./writer.js', import.meta.url));
/** Longest wait for the child to start or to acknowledge its target count. */
const CHILD_DEADLINE_MS = 20_000;

/** Parameters of one crash run. */
export interface CrashRun {
  seed: number;
  kills: number;
  writers: number;
  segmentBytes: number;
  /** Failpoint kill probabilities passed to the child, e.g. 'walAfterWrite=0.01'. */
  failpoints?: string;
  /** Largest number of acks to wait for before a kill. */
  acksMax: number;
}

/** Summary of a crash run. */
export interface CrashReport {
  acked: number;
  lastIndex: number;
  repairs: number;
  childSelfKills: number;
}

/**
 * Runs `run.kills` kill-and-reopen rounds on one fresh temp directory; throws an AssertionError
 * naming the seed and round on the first lost, damaged or gapped entry. Removes the directory.
 */
export async function runCrashTest(run: CrashRun): Promise<CrashReport> {
  const rng = new SeededRng(run.seed);
  const base = await mkdtemp(join(tmpdir(), 'tsetcd-wal-crash-'));
  const dir = join(base, 'member', 'wal');
  const acked = new Map<number, number>(); // index -> term of the acknowledged save
  let repairs = 0;
  let selfKills = 0;
  let child: ChildProcess | undefined;
  try {
    for (let kill = 1; kill <= run.kills; kill++) {
      const target = 1 + rng.int(run.acksMax);
      let acks = 0;
      let buf = '';
      let ready = false;
      let exited = false;
      let stderr = '';
      const c = spawn(
        process.execPath,
        [WRITER, dir, String(run.writers), String(kill), String(run.segmentBytes)],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...process.env,
            TSETCD_WAL_SEED: String(run.seed * 1000 + kill),
            TSETCD_WAL_FAILPOINTS: run.failpoints ?? '',
          },
        },
      );
      child = c;
      const exit = new Promise<NodeJS.Signals | number | null>((res) =>
        c.on('exit', (code, sig) => {
          exited = true;
          res(sig ?? code);
        }),
      );
      c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      c.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
          const [what, a, b] = line.split(' ');
          if (what === 'ready') ready = true;
          else if (what === 'ack') {
            acked.set(Number(a), Number(b));
            acks++;
          }
        }
      });
      const deadline = Date.now() + CHILD_DEADLINE_MS;
      while (!exited && (!ready || acks < target) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 1));
      if (!exited) c.kill('SIGKILL');
      const how = await exit;
      child = undefined;
      assert.equal(how, 'SIGKILL', `seed ${run.seed} kill ${kill}: child ended with ${how}: ${stderr}`);
      if (ready && acks < target && !run.failpoints)
        assert.fail(`seed ${run.seed}: child acknowledged only ${acks}`);
      if (acks < target) selfKills++;
      let r: Awaited<ReturnType<typeof Wal.open>>;
      try {
        r = await Wal.open(dir, { segmentBytes: run.segmentBytes });
      } catch (e) {
        // Killed inside Wal.create before its first segment was in place: nothing was acknowledged.
        if ((e as { code?: string }).code === 'not-found' && acked.size === 0) continue;
        throw e;
      }
      try {
        if (r.repaired) repairs++;
        const first = r.entries[0]?.index ?? 1;
        assert.equal(first, 1, `seed ${run.seed} kill ${kill}: log starts at ${first}`);
        for (let i = 0; i < r.entries.length; i++) {
          assert.equal(r.entries[i]!.index, i + 1, `seed ${run.seed} kill ${kill}: gap at ${i + 1}`);
        }
        for (const [idx, term] of acked) {
          const e = r.entries[idx - 1];
          assert.ok(
            e,
            `seed ${run.seed} kill ${kill}: acknowledged ${idx} lost (log ends at ${r.entries.length})`,
          );
          if (e.term === term)
            assert.deepEqual(e, crashEntry(idx, term), `seed ${run.seed}: entry ${idx} damaged`);
          else
            assert.fail(
              `seed ${run.seed} kill ${kill}: acknowledged ${idx}@${term} replaced by term ${e.term}`,
            );
        }
        // Unacknowledged survivors are kept: the next writer appends after them, so they count.
        for (const e of r.entries) if (!acked.has(e.index)) acked.set(e.index, e.term);
      } finally {
        await r.wal.close();
      }
    }
    return { acked: acked.size, lastIndex: Math.max(0, ...acked.keys()), repairs, childSelfKills: selfKills };
  } finally {
    child?.kill('SIGKILL');
    await rm(base, { recursive: true, force: true });
  }
}
