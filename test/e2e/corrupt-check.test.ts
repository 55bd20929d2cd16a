// Goal: etcd 3.4's corruption checks behave in tsetcd as in etcd: `--experimental-initial-corrupt-check`
// refuses to start a member whose store differs from its peers' at the same revision, with etcd's
// error "<id> found data inconsistency with peers", and `--experimental-corrupt-check-time` makes the
// leader raise the CORRUPT alarm, after which writes and lease grants fail with DATA_LOSS
// "etcdserver: corrupt cluster" while reads still work.
// Method (differential): the same steps against a 3-member etcd 3.4 and a 3-member tsetcd. A
// follower is stopped and its store corrupted offline exactly as etcd's own TestEtcdCorruptHash does
// (every KeyValue's key[0]++ and value[0]++): for etcd with that test's bbolt code
// (testdata/corrupt-bbolt, built with Go), for tsetcd the same edit through lmdb. A clean restart
// must pass the initial check; the corrupted restart must exit with the error; restarted without the
// initial check it runs, and the leader's next periodic pass must raise CORRUPT. Compared: the exit,
// the error text, the log messages (etcd with --logger zap), `etcdctl alarm list`, and the code and
// text of a put, a txn and a lease grant under the alarm. The etcd half is skipped when Go or etcd's
// Go sources (golang-etcd-server-dev) are missing.
// Checked to fail without the feature: with the initial check skipped in CorruptChecker.start() the
// test fails (no "passed" line, and the corrupted member runs); with the applier's CORRUPT check
// removed the put succeeds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { open } from 'lmdb';
import { KeyValue } from '../../src/proto/mvccpb/kv.js';
import { launch, type Proc, planCluster, startAll, stop, stopAll, waitHealthy } from '../helpers/cluster.js';
import {
  b,
  connect,
  etcdctl,
  haveCommand,
  repoRoot,
  type Settled,
  settle,
  tempDir,
  waitFor,
} from '../helpers/index.js';

const CHECK_FLAGS = ['--experimental-initial-corrupt-check', '--experimental-corrupt-check-time', '1s'];

/** etcd's corruptHash on tsetcd's store: every KeyValue's key[0]++ and value[0]++ (lmdb, offline). */
export function corruptTsetcdStore(dataDir: string): number {
  const env = open<Buffer, Buffer>({
    path: join(dataDir, 'member', 'snap', 'db', 'db'),
    maxDbs: 4,
    keyEncoding: 'binary',
    encoding: 'binary',
    compression: false,
  });
  const kv = env.openDB<Buffer, Buffer>({ name: 'key', keyEncoding: 'binary', encoding: 'binary' });
  let n = 0;
  env.transactionSync(() => {
    const edits: [Buffer, Buffer][] = [];
    for (const { key, value } of kv.getRange({})) {
      const m = KeyValue.decode(value);
      m.key = Buffer.from(m.key);
      m.value = Buffer.from(m.value);
      m.key[0] = (m.key[0]! + 1) & 0xff;
      if (m.value.length > 0) m.value[0] = (m.value[0]! + 1) & 0xff;
      edits.push([Buffer.from(key), Buffer.from(KeyValue.encode(m).finish())]);
    }
    for (const [k, v] of edits) kv.putSync(k, v);
    n = edits.length;
  });
  env.close();
  return n;
}

/** The corrupt-bbolt tool (etcd's corruptHash), built once with Go in GOPATH mode; undefined without Go. */
function corruptBboltTool(): string | undefined {
  if (!haveCommand('go') || !existsSync('/usr/share/gocode/src/go.etcd.io/bbolt')) return undefined;
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tsetcd-etcd-e2e');
  const bin = join(dir, 'corrupt-bbolt');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('go', ['build', '-o', bin, '.'], {
    cwd: join(repoRoot(), 'test', 'e2e', 'testdata', 'corrupt-bbolt'),
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `building corrupt-bbolt failed: ${r.stderr}`);
  return bin;
}

interface Outcome {
  cleanRestartLog: boolean;
  exitCode: number | null;
  errorLine: boolean;
  mismatchLogged: boolean;
  alarmList: string;
  alarmLogged: boolean;
  put: string;
  txn: string;
  leaseGrant: string;
  rangeOk: boolean;
}

async function scenario(
  t: { after(fn: () => void): void },
  kind: 'etcd' | 'tsetcd',
  corrupt: (dataDir: string) => void,
): Promise<Outcome> {
  const dir = tempDir(`tsetcd-corrupt-${kind}-`);
  const extra = [...CHECK_FLAGS, '--snapshot-count', '3', ...(kind === 'etcd' ? ['--logger', 'zap'] : [])];
  const procs = await planCluster(dir.path, 3, { kind, token: `corrupt-${kind}`, extraFlags: extra });
  try {
    await startAll(procs);
    const c = connect(procs[0]!.client);
    try {
      for (let i = 0; i < 10; i++) await c.kv.put({ key: b(`foo${i}`), value: b(`v${i}`) });
      const rev = (await c.kv.range({ key: b('foo0') })).header!.revision;
      // Every member holds the same history before one is stopped.
      await waitFor(async () => {
        const hs = await Promise.all(
          procs.map(async (p) => {
            const cl = connect(p.client);
            try {
              return (await cl.maintenance.hashKv({ revision: rev })).hash;
            } catch {
              return -1;
            } finally {
              cl.close();
            }
          }),
        );
        return hs.every((h) => h === hs[0] && h !== -1);
      });
      const leaderId = (await c.maintenance.status({})).leader;
      const statuses = await Promise.all(
        procs.map(async (p) => {
          const cl = connect(p.client);
          try {
            return (await cl.maintenance.status({})).header!.memberId;
          } finally {
            cl.close();
          }
        }),
      );
      const fi = statuses.findIndex((id) => id !== leaderId);
      const leader = procs[statuses.indexOf(leaderId)]!;
      const f = procs[fi]!;
      const fid = statuses[fi]!.toString(16);

      // A clean restart passes the initial check.
      await stop(f);
      f.log = '';
      launch(f);
      await waitHealthy(f);
      const cleanRestartLog = f.log.includes('initial corruption checking passed; no corruption');

      // Corrupted offline: the initial check refuses to start it.
      await stop(f);
      corrupt(f.dataDir);
      f.log = '';
      launch(f);
      const exitCode = await Promise.race([
        f.exited,
        new Promise<'running'>((r) => setTimeout(() => r('running'), 30_000).unref()),
      ]);
      const errorLine = f.log.includes(`${fid} found data inconsistency with peers`);
      const mismatchLogged = f.log.includes('found different hash values from remote peer');

      // Without the initial check it runs; the leader's periodic pass raises CORRUPT.
      const unchecked: Proc = {
        ...f,
        args: f.args.filter((a) => a !== '--experimental-initial-corrupt-check'),
      };
      procs[fi] = unchecked;
      unchecked.log = '';
      launch(unchecked);
      const ep = leader.client;
      const alarmList = await waitFor(
        async () => {
          const r = await etcdctl(ep, ['alarm', 'list']);
          return r.stdout.includes('CORRUPT') ? r.stdout : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 300 },
      );
      const alarmLogged = leader.log.includes('same compact revision then hashes must match');
      const lc = connect(leader.client);
      t.after(() => lc.close());
      const errText = (s: Settled<unknown>) => (s.ok ? 'ok' : `${s.code} ${s.details}`);
      const put = errText(await settle(lc.kv.put({ key: b('after'), value: b('x') })));
      const txn = errText(
        await settle(lc.kv.txn({ success: [{ requestPut: { key: b('t'), value: b('x') } }] } as never)),
      );
      const leaseGrant = errText(await settle(lc.lease.leaseGrant({ TTL: 60n, ID: 0n } as never)));
      const rangeOk = (await lc.kv.range({ key: b('foo1') })).kvs.length === 1;
      return {
        cleanRestartLog,
        exitCode: exitCode === 'running' ? -999 : exitCode,
        errorLine,
        mismatchLogged,
        alarmList,
        alarmLogged,
        put,
        txn,
        leaseGrant,
        rangeOk,
      };
    } finally {
      c.close();
    }
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\n${procs.map((p) => `--- ${p.name}\n${p.log.slice(-3000)}`).join('\n')}`,
    );
  } finally {
    await stopAll(procs);
    dir.remove();
  }
}

test('corruption checks: initial check refuses, periodic check raises CORRUPT, as etcd 3.4', {
  timeout: 240_000,
}, async (t) => {
  const got = await scenario(t, 'tsetcd', (d) => {
    assert.ok(corruptTsetcdStore(d) >= 10, 'the store holds the 10 puts');
  });
  assert.equal(got.cleanRestartLog, true, 'a clean restart passes the initial check');
  assert.equal(got.exitCode, 1, 'the corrupted member exits');
  assert.equal(got.errorLine, true, "etcd's error text");
  assert.equal(got.mismatchLogged, true);
  assert.equal(got.alarmList.trim(), 'alarm:CORRUPT');
  assert.equal(got.alarmLogged, true);
  assert.equal(got.put, '15 etcdserver: corrupt cluster');
  assert.equal(got.txn, '15 etcdserver: corrupt cluster');
  assert.equal(got.leaseGrant, '15 etcdserver: corrupt cluster');
  assert.equal(got.rangeOk, true, 'reads still work');

  const tool = corruptBboltTool();
  if (!tool || !haveCommand(process.env.ETCD_BIN ?? 'etcd')) {
    t.diagnostic('no Go or no etcd: the etcd half of the comparison is skipped');
    return;
  }
  const want = await scenario(t, 'etcd', (d) => {
    const r = spawnSync(tool, [join(d, 'member', 'snap', 'db')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
  t.diagnostic(`etcd: ${JSON.stringify(want)}`);
  // etcd exits 1 from zap's Fatal as tsetcd does from its start failure.
  assert.deepEqual(got, want);
});
