/**
 * The crash loop shared by the default crash test and the long fault run: a real tsetcd process under
 * concurrent writers is SIGKILLed at a seeded random moment, restarted on the same data dir, and every
 * write it acknowledged must be there with the revision it was acknowledged at.
 */
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { SeededRng } from '../../src/pkg/rng.js';
import { dataDirLayout, Member as LocalMember } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { b, connect, type Member, startMember, tempDir } from '../helpers/index.js';

/** Replays a copy of `walDir` into an empty store in this process and returns its HashKV at `rev`. */
async function hashOfReplay(
  walDir: string,
  peerURL: string,
  rev: number,
): Promise<{ hash: number; rev: number }> {
  const dir = tempDir('tsetcd-replay-');
  try {
    cpSync(walDir, dataDirLayout(dir.path).walDir, { recursive: true });
    const m = await LocalMember.start(
      {
        name: 'replay',
        dataDir: dir.path,
        clientUrls: [],
        // The same identity as the crashed member, so the replayed membership makes it the voter.
        peerUrls: [peerURL],
        initialCluster: [],
        initialClusterToken: 'etcd-cluster',
        maxRequestBytes: 1 << 20,
        maxTxnOps: 128,
        quotaBackendBytes: 0,
      },
      silentLogger,
    );
    try {
      const h = await m.store.hashKV(rev);
      return { hash: h.hash, rev: m.store.rev };
    } finally {
      await m.stop();
    }
  } finally {
    dir.remove();
  }
}

export interface CrashRunOptions {
  seed: number;
  cycles: number;
  writers: number;
  /** Kill between min and max ms after the writers start. */
  killAfterMs: [number, number];
}

export interface CrashRunReport {
  acknowledged: number;
  cycles: number;
  restartMsMax: number;
}

export async function crashRun(
  opts: CrashRunOptions,
  t: { after(fn: () => unknown): void },
): Promise<CrashRunReport> {
  const rng = new SeededRng(opts.seed);
  const member: Member = await startMember('tsetcd', { name: 'crash', t });
  const acked = new Map<string, { value: string; rev: bigint }>();
  let restartMsMax = 0;
  for (let cycle = 0; cycle < opts.cycles; cycle++) {
    const c = connect(member.endpoint);
    let stop = false;
    const writer = async (w: number) => {
      for (let seq = 0; !stop; seq++) {
        const key = `c${cycle}/w${w}/${seq}`;
        const value = `${opts.seed}:${cycle}:${w}:${seq}`;
        try {
          const r = await c.kv.put({ key: b(key), value: b(value) });
          acked.set(key, { value, rev: r.header!.revision });
        } catch {
          return; // the process died: this write's outcome is unknown, and that is allowed
        }
      }
    };
    const writers = Array.from({ length: opts.writers }, (_, w) => writer(w));
    const [lo, hi] = opts.killAfterMs;
    await new Promise((r) => setTimeout(r, lo + rng.int(hi - lo + 1)));
    await member.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    c.close();
    // The log as the crash left it, for an independent replay below.
    const walCopy = tempDir('tsetcd-walcopy-');
    cpSync(dataDirLayout(member.dataDir).walDir, walCopy.path, { recursive: true });
    const started = performance.now();
    await member.restart();
    restartMsMax = Math.max(restartMsMax, performance.now() - started);

    const check = connect(member.endpoint);
    const all = await check.kv.range({ key: b('c'), rangeEnd: b('d') });
    const found = new Map(all.kvs.map((kv) => [kv.key.toString(), kv]));
    for (const [key, want] of acked) {
      const kv = found.get(key);
      assert.ok(kv, `seed ${opts.seed} cycle ${cycle}: acknowledged key ${key} (rev ${want.rev}) is lost`);
      assert.equal(kv.value.toString(), want.value, `seed ${opts.seed}: ${key} has the wrong value`);
      assert.equal(kv.modRevision, want.rev, `seed ${opts.seed}: ${key} has the wrong revision`);
    }
    // Revisions stay dense and increasing: the newest key has the store's revision or less.
    assert.ok(all.header!.revision >= [...acked.values()].reduce((m, v) => (v.rev > m ? v.rev : m), 0n));
    // The restarted store equals a store rebuilt from nothing but the log.
    const rev = Number(all.header!.revision);
    const replay = await hashOfReplay(walCopy.path, member.peerURL, rev);
    walCopy.remove();
    assert.equal(
      replay.rev,
      rev,
      `seed ${opts.seed} cycle ${cycle}: replay reached revision ${replay.rev}, member ${rev}`,
    );
    const live = await check.maintenance.hashKv({ revision: BigInt(rev) });
    assert.equal(
      live.hash,
      replay.hash,
      `seed ${opts.seed} cycle ${cycle}: store hash differs from a replay of the log`,
    );
    check.close();
  }
  return { acknowledged: acked.size, cycles: opts.cycles, restartMsMax: Math.round(restartMsMax) };
}
