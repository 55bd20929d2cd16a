// Goal: tsetcd's Watch API answers exactly as etcd 3.4's: created / canceled responses, refused
// creates (duplicate id, empty range) with etcd's cancel reasons, event responses (one per revision,
// a txn's events together), filters, prev_kv, ranges and prefixes, history from a past start
// revision, the compacted-start cancel, future start revisions, progress requests, fragmenting, and
// `etcdctl watch` output.
// Method: each case drives a fresh real etcd and a fresh tsetcd through the same steps over one or
// more Watch streams; every response is recorded normalized (ids and raft terms become placeholders,
// revisions stay) and the transcripts must be equal. Where etcd's order between two watchers'
// responses to one write is not defined (its watchers live in a map), the responses of that write
// are collected and sorted by watch id before recording. "Nothing was sent" is shown by ordering:
// a later response proves no response came before it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import {
  WatchCreateRequest_FilterType as Filter,
  type WatchResponse,
} from '../../src/proto/etcdserverpb/rpc.js';
import {
  b,
  diffCase,
  etcdctl,
  openWatch,
  runDiff,
  type Session,
  type WatchStream,
  waitFor,
} from '../helpers/index.js';

/** Receives `n` responses and records them sorted by watch id (etcd's order among watchers is free). */
async function recv(s: Session, w: WatchStream, step: string, n = 1): Promise<WatchResponse[]> {
  const got: WatchResponse[] = [];
  for (let i = 0; i < n; i++) got.push(await w.next());
  got.sort((x, y) => (x.watchId < y.watchId ? -1 : x.watchId > y.watchId ? 1 : 0));
  s.record(step, got);
  return got;
}

async function put(s: Session, key: string, value: string): Promise<void> {
  await s.rpc(`put ${key}=${value.slice(0, 20)}`, (c) => c.kv.put({ key: b(key), value: b(value) }));
}

diffCase('watch: create, events, filters, prev_kv, ranges, txn grouping, cancel', async (s) => {
  const w = openWatch(s.clients);
  try {
    await put(s, 'foo', 'v0');
    w.send({ createRequest: { key: b('foo') } });
    const [created] = await recv(s, w, 'create foo');
    assert.equal(created?.created, true, 'etcd answers a create with created=true');
    await put(s, 'foo', 'v1');
    await recv(s, w, 'event put foo');
    // A range watch [fo, fp) with prev_kv that drops deletes.
    w.send({
      createRequest: { key: b('fo'), rangeEnd: b('fp'), prevKv: true, filters: [Filter.NODELETE] },
    });
    await recv(s, w, 'create range fo..fp prev_kv NODELETE');
    await put(s, 'foo', 'v2');
    await recv(s, w, 'put foo: both watchers', 2);
    await s.rpc('delete foo', (c) => c.kv.deleteRange({ key: b('foo') }));
    await recv(s, w, 'delete foo: only the unfiltered watcher');
    // A txn's events travel in one response per watcher.
    await s.rpc('txn put foo, fob, zzz', (c) =>
      c.kv.txn({
        success: [
          { requestPut: { key: b('foo'), value: b('t1') } },
          { requestPut: { key: b('fob'), value: b('t2') } },
          { requestPut: { key: b('zzz'), value: b('t3') } },
        ],
      }),
    );
    await recv(s, w, 'txn: one response per watcher', 2);
    // Prefix watch on everything with NOPUT, and a from-key watch (range end "\0").
    w.send({ createRequest: { key: b(''), rangeEnd: Buffer.from([0]), filters: [Filter.NOPUT] } });
    await recv(s, w, 'create all keys NOPUT');
    w.send({ createRequest: { key: b('m'), rangeEnd: Buffer.from([0]) } });
    await recv(s, w, 'create from m');
    await s.rpc('delete range a..z', (c) => c.kv.deleteRange({ key: b('a'), rangeEnd: b('z') }));
    await recv(s, w, 'delete foo, fob: foo, range(NODELETE drops), all-keys NOPUT', 2);
    await put(s, 'zzz', 'v9');
    await recv(s, w, 'put zzz: only the from-m watcher');
    // Cancel: a canceled response; cancelling an unknown id answers nothing (the progress answer
    // that follows is the next response).
    w.send({ cancelRequest: { watchId: 0n } });
    await recv(s, w, 'cancel 0');
    w.send({ cancelRequest: { watchId: 99n } });
    w.send({ progressRequest: {} });
    await recv(s, w, 'cancel unknown id, then progress request');
    await put(s, 'foo', 'after-cancel');
    await recv(s, w, 'put foo after cancel: only the range watcher');
  } finally {
    w.close();
  }
});

diffCase('watch: client-chosen ids, duplicate id, empty range', async (s) => {
  const w = openWatch(s.clients);
  try {
    w.send({ createRequest: { key: b('a'), watchId: 7n } });
    await recv(s, w, 'create id 7');
    w.send({ createRequest: { key: b('b'), watchId: 7n } });
    const [dup] = await recv(s, w, 'create id 7 again');
    assert.equal(dup?.cancelReason, 'mvcc: duplicate watch ID provided on the WatchStream');
    w.send({ createRequest: { key: b('b'), rangeEnd: b('a') } });
    await recv(s, w, 'range end before key');
    w.send({ createRequest: { key: b('b'), rangeEnd: b('b') } });
    await recv(s, w, 'range end equal to key');
    // Automatic ids start at 0 and skip ids the client took.
    w.send({ createRequest: { key: b('c'), watchId: 1n } });
    await recv(s, w, 'create id 1');
    w.send({ createRequest: { key: b('d') } });
    await recv(s, w, 'create auto (0)');
    w.send({ createRequest: { key: b('e') } });
    await recv(s, w, 'create auto (skips 1)');
    await put(s, 'a', '1');
    await recv(s, w, 'event for id 7');
    await put(s, 'e', '1');
    await recv(s, w, 'event for auto id');
    // A negative start revision is below even a never-compacted store's compact revision (-1).
    w.send({ createRequest: { key: b('a'), startRevision: -3n, watchId: 20n } });
    await recv(s, w, 'create a from rev -3');
    await recv(s, w, 'canceled as compacted at -1');
    // Negative client-chosen ids are taken as given.
    w.send({ createRequest: { key: b('a'), watchId: -5n } });
    await recv(s, w, 'create id -5');
    // Two streams do not share ids.
    const w2 = openWatch(s.clients);
    try {
      w2.send({ createRequest: { key: b('a'), watchId: 7n } });
      await recv(s, w2, 'second stream: id 7 is free');
      await put(s, 'a', '2');
      await recv(s, w, 'first stream sees a (ids -5 and 7)', 2);
      await recv(s, w2, 'second stream sees a');
    } finally {
      w2.close();
    }
  } finally {
    w.close();
  }
});

diffCase('watch: history from a past revision, compacted start, future start', async (s) => {
  const w = openWatch(s.clients);
  try {
    await put(s, 'a', '1'); // rev 2
    await put(s, 'b', '1'); // rev 3
    await put(s, 'a', '2'); // rev 4
    await s.rpc('delete a', (c) => c.kv.deleteRange({ key: b('a') })); // rev 5
    await put(s, 'a', '3'); // rev 6
    w.send({ createRequest: { key: b('a'), startRevision: 2n, prevKv: true } });
    await recv(s, w, 'create a from rev 2 with prev_kv');
    await recv(s, w, 'history of a: revs 2, 4, 5, 6 in one response');
    w.send({ createRequest: { key: b('a'), rangeEnd: b('c'), startRevision: 3n } });
    await recv(s, w, 'create a..c from rev 3');
    await recv(s, w, 'history of a..c from 3');
    await s.rpc('compact 4', (c) => c.kv.compact({ revision: 4n, physical: true }));
    w.send({ createRequest: { key: b('a'), startRevision: 3n } });
    const [c3] = await recv(s, w, 'create a from compacted rev 3');
    await recv(s, w, 'compacted: canceled with compact_revision');
    w.send({ createRequest: { key: b('a'), startRevision: 4n } });
    await recv(s, w, 'create a from rev 4 (the compact revision itself)');
    await recv(s, w, 'history of a from 4');
    // The compacted watcher's id is still taken until the client cancels it.
    w.send({ cancelRequest: { watchId: c3?.watchId ?? -2n } });
    await recv(s, w, 'cancel the compacted watcher');
    // A future start revision: nothing until the store reaches it.
    w.send({ createRequest: { key: b('f'), startRevision: 9n } });
    await recv(s, w, 'create f from future rev 9');
    await put(s, 'f', 'rev7'); // rev 7: before the start (watchers 0, 2 do not match f either)
    await put(s, 'f', 'rev8'); // rev 8
    await put(s, 'f', 'rev9'); // rev 9: the first the watcher sees
    await recv(s, w, 'f at rev 9 is the first response');
  } finally {
    w.close();
  }
});

/** A response with each event's value replaced by its length (values here are large). */
function brief(r: WatchResponse): unknown {
  return {
    ...r,
    events: r.events.map((e) => ({
      type: e.type,
      key: e.kv?.key,
      mod: e.kv?.modRevision,
      bytes: e.kv?.value.length,
    })),
  };
}

diffCase('watch: fragmenting a large catch-up response for a fragment watcher', async (s) => {
  const w = openWatch(s.clients);
  try {
    // etcd fragments above --max-request-bytes + 512 KiB of gRPC overhead (2 MiB by default).
    const big = 'x'.repeat(800_000);
    for (const k of ['k1', 'k2', 'k3']) await put(s, k, big); // revs 2..4
    w.send({ createRequest: { key: b('k'), rangeEnd: b('l'), startRevision: 2n, fragment: true } });
    await recv(s, w, 'create k.. fragment from rev 2');
    const parts: WatchResponse[] = [];
    do parts.push(await w.next());
    while (parts[parts.length - 1]?.fragment);
    s.record('fragments', parts.map(brief));
    assert.ok(parts.length > 1, 'etcd splits the response');
    w.send({ createRequest: { key: b('k'), rangeEnd: b('l'), startRevision: 2n } });
    await recv(s, w, 'create k.. whole from rev 2');
    s.record('one whole response', brief(await w.next()));
  } finally {
    w.close();
  }
});

diffCase(
  'watch: periodic progress notifications',
  async (s) => {
    const w = openWatch(s.clients);
    try {
      await put(s, 'p', '1');
      w.send({ createRequest: { key: b('p'), progressNotify: true } });
      await recv(s, w, 'create p progress_notify');
      await recv(s, w, 'a progress notification: no events, header at the current revision');
    } finally {
      w.close();
    }
  },
  {
    flags: ['--experimental-watch-progress-notify-interval', '300ms'],
  },
);

// ---------------------------------------------------------------- etcdctl watch

/** Runs `etcdctl watch ...` in the background; `lines` waits for its output, `stop` kills it. */
function ctlWatch(endpoint: string, args: string[]) {
  const child = spawn(process.env.ETCDCTL_BIN ?? 'etcdctl', ['--endpoints', endpoint, 'watch', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', () => {});
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    lines: async (n: number): Promise<string[]> => {
      await waitFor(() => out.split('\n').filter((l) => l !== '').length >= n, { timeoutMs: 10_000 });
      return out.split('\n').filter((l) => l !== '');
    },
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

test('etcdctl watch: live events, --prefix, --rev history, --prev-kv', { timeout: 60_000 }, async () => {
  await runDiff(async (s) => {
    await s.ctl('put hist 1');
    await s.ctl('put hist 2');
    const live = ctlWatch(s.member.endpoint, ['--prefix', 'app/']);
    const history = ctlWatch(s.member.endpoint, ['--rev', '2', '--prev-kv', 'hist']);
    try {
      // Two events, the second with its previous value: 8 lines in all.
      s.record('history', await history.lines(8));
      // The live watcher is started once a put reaches it; keep putting a marker until it does.
      await waitFor(
        async () => {
          await etcdctl(s.member.endpoint, ['put', 'app/marker', 'm']);
          return (await live.lines(0)).length > 0;
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      );
      await s.ctl('put app/x 1');
      await s.ctl('del app/x');
      await s.ctl('put other 1');
      await s.ctl('put app/y 2');
      // Output from the first app/x event on (the markers before it vary in number); done once the
      // app/y event's value line is out.
      const tail = await waitFor(async () => {
        const all = await live.lines(0);
        const from = all.findIndex((l, i) => l === 'PUT' && all[i + 1] === 'app/x');
        const end = all.findIndex((l, i) => l === 'app/y' && all[i + 1] === '2');
        return from >= 0 && end >= 0 ? all.slice(from, end + 2) : undefined;
      });
      s.record('live --prefix app/ from app/x', tail);
    } finally {
      await live.stop();
      await history.stop();
    }
  });
});

diffCase('etcdctl watch: a compacted start revision ends the command with etcd error text', async (s) => {
  await s.ctl('put a 1');
  await s.ctl('put a 2');
  await s.ctl('put a 3');
  await s.ctl('compact 3');
  await s.ctl('watch --rev 2 a', {
    fail: 'watch was canceled (etcdserver: mvcc: required revision has been compacted)\nError: watch is canceled by the server',
  });
});
