// Defragment while clients write: tsetcd next to etcd 3.4 (indicative; one run each). For each
// kind, a fresh single member: load --keys keys of --value bytes, delete every other key and
// compact (physically), so the file has free pages; then --clients puts in flight for --seconds
// (256-byte values over 10,000 keys, over 4 connections) and, after 2 s, one Defragment. Prints a
// markdown table: the defragment's duration, the file size before and after (Status dbSize), and
// the put latencies (p50/p99/max) of the puts in flight during the defragment and of the rest.
// etcd 3.4 blocks every request for the whole defragment; tsetcd copies while writes go on.
// Usage: node scripts/bench-defrag.mjs [--keys 100000] [--value 1024] [--clients 100]
//        [--seconds 10] [--kinds etcd,tsetcd] (run `npm run build` first; `npm run bench:defrag`).
import { join } from 'node:path';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const root = new URL('..', import.meta.url).pathname;
const { connect } = await import(join(root, 'dist/test/helpers/grpc.js'));
const { launch, planSingle, kill, waitHealthy } = await import(join(root, 'dist/test/helpers/cluster.js'));
const { tempDir } = await import(join(root, 'dist/test/helpers/util.js'));
const { argOf, QUOTA_FLAGS } = await import('./bench-lib.mjs');
const { percentile } = await import(join(root, 'dist/bench/support.js'));

const args = process.argv.slice(2);
const arg = (name, dflt) => argOf(args, name, dflt);
const KEYS = Number(arg('--keys', '100000'));
const VALUE = Number(arg('--value', '1024'));
const CLIENTS = Number(arg('--clients', '100'));
const SECONDS = Number(arg('--seconds', '10'));
const KINDS = String(arg('--kinds', 'etcd,tsetcd')).split(',');
const CONNS = 4;
const DEFRAG_AT_MS = 2000;

const keyOf = (i) => Buffer.from(`defrag/${String(i).padStart(9, '0')}`);

async function run(kind) {
  const dir = tempDir(`bench-defrag-${kind}-`);
  const p = await planSingle(kind, 'm', join(dir.path, 'data'), { token: `bench-defrag-${kind}` });
  p.args.push(...QUOTA_FLAGS);
  const conns = Array.from({ length: CONNS }, () => null);
  try {
    launch(p);
    await waitHealthy(p, 60_000);
    for (let i = 0; i < CONNS; i++) conns[i] = connect(p.client);
    const c = conns[0];
    // load, then delete every other key and compact: free pages for the defragment to drop
    const value = Buffer.alloc(VALUE, 121);
    let next = 0;
    const loader = async () => {
      while (next < KEYS) {
        const lo = next;
        next = Math.min(KEYS, next + 50);
        const success = [];
        for (let i = lo; i < next; i++) success.push({ requestPut: { key: keyOf(i), value } });
        await c.kv.txn({ compare: [], success, failure: [] }, { deadlineMs: 60_000 });
      }
    };
    await Promise.all(Array.from({ length: 8 }, loader));
    next = 0;
    const deleter = async () => {
      while (next < KEYS) {
        const lo = next;
        next = Math.min(KEYS, next + 200);
        const success = [];
        for (let i = lo; i < next; i += 2) success.push({ requestDeleteRange: { key: keyOf(i) } });
        await c.kv.txn({ compare: [], success, failure: [] }, { deadlineMs: 60_000 });
      }
    };
    await Promise.all(Array.from({ length: 8 }, deleter));
    const rev = (await c.kv.range({ key: keyOf(1) })).header.revision;
    await c.kv.compact({ revision: rev, physical: true }, { deadlineMs: 120_000 });
    const before = Number((await c.maintenance.status({})).dbSize);

    // writers, and one defragment after DEFRAG_AT_MS
    const small = Buffer.alloc(256, 122);
    const lat = []; // [startMs, ms]
    let errors = 0;
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    let n = 0;
    const writer = async (w) => {
      const cc = conns[w % CONNS];
      while (performance.now() < end) {
        const k = keyOf(1 + 2 * ((n++ * 7919) % 10_000));
        const s = performance.now();
        try {
          await cc.kv.put({ key: k, value: small }, { deadlineMs: 60_000 });
          lat.push([s - t0, performance.now() - s]);
        } catch {
          errors++;
        }
      }
    };
    const writers = Array.from({ length: CLIENTS }, (_, w) => writer(w));
    await new Promise((r) => setTimeout(r, DEFRAG_AT_MS));
    const d0 = performance.now() - t0;
    await conns[1].maintenance.defragment({}, { deadlineMs: 600_000 });
    const d1 = performance.now() - t0;
    await Promise.all(writers);
    const after = Number((await c.maintenance.status({})).dbSize);
    // tsetcd logs how long writes were stopped (the catch-up and the swap)
    const logged = /"writes-stopped-ms":(\d+)/.exec(p.log);
    const during = lat
      .filter(([s, ms]) => s + ms >= d0 && s <= d1)
      .map(([, ms]) => ms)
      .sort((a, b) => a - b);
    const rest = lat
      .filter(([s, ms]) => !(s + ms >= d0 && s <= d1))
      .map(([, ms]) => ms)
      .sort((a, b) => a - b);
    return {
      defragMs: d1 - d0,
      stoppedMs: logged ? Number(logged[1]) : undefined,
      beforeMiB: before / 2 ** 20,
      afterMiB: after / 2 ** 20,
      puts: lat.length,
      errors,
      duringN: during.length,
      during: { p50: percentile(during, 50), p99: percentile(during, 99), max: during.at(-1) },
      rest: { p50: percentile(rest, 50), p99: percentile(rest, 99), max: rest.at(-1) },
    };
  } finally {
    for (const cc of conns) cc?.close();
    await kill(p);
    dir.remove();
  }
}

const res = {};
for (const kind of KINDS) {
  process.stderr.write(`== ${kind}\n`);
  res[kind] = await run(kind);
}
const f = (x, d = 1) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
const lines = [
  `Defragment of a single member while ${CLIENTS} clients put (${KEYS.toLocaleString('en-US')} keys x ${VALUE} B loaded, half deleted and compacted)`,
  '',
  `| | ${KINDS.join(' | ')} |`,
  `|---|${KINDS.map(() => '---').join('|')}|`,
  `| defragment took (ms) | ${KINDS.map((k) => f(res[k].defragMs, 0)).join(' | ')} |`,
  `| of which writes stopped (ms; tsetcd's log) | ${KINDS.map((k) => f(res[k].stoppedMs ?? (k === 'etcd' ? res[k].defragMs : undefined), 0)).join(' | ')} |`,
  `| file before / after (MiB) | ${KINDS.map((k) => `${f(res[k].beforeMiB, 0)} / ${f(res[k].afterMiB, 0)}`).join(' | ')} |`,
  `| puts answered during the defragment | ${KINDS.map((k) => res[k].duringN).join(' | ')} |`,
  `| put p50 / p99 / max during it (ms) | ${KINDS.map((k) => `${f(res[k].during.p50)} / ${f(res[k].during.p99)} / ${f(res[k].during.max)}`).join(' | ')} |`,
  `| put p50 / p99 / max otherwise (ms) | ${KINDS.map((k) => `${f(res[k].rest.p50)} / ${f(res[k].rest.p99)} / ${f(res[k].rest.max)}`).join(' | ')} |`,
  `| puts (errors) | ${KINDS.map((k) => `${res[k].puts} (${res[k].errors})`).join(' | ')} |`,
];
console.log(lines.join('\n'));
