// A benchmark, not a test: `npm run bench:mvcc -- [keys] [valueBytes]` (node --expose-gc dist/bench/mvcc.js) (defaults 1,000,000 keys
// x 256 bytes). Reports, for a fresh store in a temp dir:
//   - puts/s, one put per write txn (as the apply loop does, one txn per raft entry), with a
//     commit() (group commit, one fsync) every COMMIT_EVERY txns, with sync on;
//   - single-key range/s (random existing keys, current revision) and a 100-key range scan/s;
//   - overwrite puts/s with sync off (a WAL in front);
//   - open (restart: key index rebuild) time and RSS after it;
//   - compaction time of the overwritten history and the longest event-loop stall during it;
//   - with `--index`: only the key-index structure choice, B+tree vs a sorted array with splice
//     (random inserts, then range scans), to show why the index is a B+tree.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRng } from '../src/pkg/index.js';
import { BTree } from '../src/mvcc/btree.js';
import { MvccStore } from '../src/mvcc/index.js';
import { helpFromHeader } from '../src/pkg/script-help.js';

helpFromHeader(import.meta.url);

const INDEX_ONLY = process.argv.includes('--index');
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const KEYS = Number(args[0] ?? 1_000_000);
const VALUE_BYTES = Number(args[1] ?? 256);
const COMMIT_EVERY = 1000;
const READS = 500_000;
const SCANS = 5_000;

function keyOf(i: number): Buffer {
  return Buffer.from(`/registry/pods/default/pod-${String(i).padStart(8, '0')}`);
}

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MiB`;
const rate = (n: number, ms: number): string => `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;

async function writeAll(s: MvccStore, ciStart: number, value: Buffer): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < KEYS; i++) {
    const txn = s.write(ciStart + i);
    txn.put(keyOf(i), value, 0n);
    txn.end();
    if ((i + 1) % COMMIT_EVERY === 0) await s.commit();
  }
  await s.commit();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mvcc-bench-'));
  const rng = new SeededRng(42);
  const value = Buffer.alloc(VALUE_BYTES, 0x61);
  try {
    console.log(
      `mvcc bench: ${KEYS.toLocaleString('en-US')} keys x ${VALUE_BYTES} B values, commit every ${COMMIT_EVERY} txns`,
    );
    let s = await MvccStore.open({ dir, sync: true });
    const putMs = await writeAll(s, 1, value);
    console.log(`put (1 put/txn, sync on):      ${rate(KEYS, putMs)}  (${(putMs / 1000).toFixed(1)} s)`);

    let t0 = performance.now();
    let found = 0;
    for (let i = 0; i < READS; i++) found += s.range(keyOf(rng.int(KEYS)), undefined).count;
    if (found !== READS) throw new Error(`lost keys: ${READS - found}`);
    console.log(`range single key:              ${rate(READS, performance.now() - t0)}`);

    t0 = performance.now();
    let n = 0;
    for (let i = 0; i < SCANS; i++) {
      const from = rng.int(KEYS - 100);
      n += s.range(keyOf(from), keyOf(from + 100)).kvs.length;
    }
    if (n !== SCANS * 100) throw new Error('scan count');
    console.log(`range 100 keys:                ${rate(SCANS, performance.now() - t0)}`);

    t0 = performance.now();
    const all = s.range(Buffer.from([0]), Buffer.from([0]), { countOnly: true });
    console.log(`count all keys:                ${(performance.now() - t0).toFixed(0)} ms (${all.count})`);
    await s.close();

    s = await MvccStore.open({ dir, sync: false });
    const overMs = await writeAll(s, KEYS + 1, Buffer.alloc(VALUE_BYTES, 0x62));
    console.log(`overwrite (sync off):          ${rate(KEYS, overMs)}`);
    const rev = s.rev;
    await s.close();

    if (global.gc) global.gc();
    const rssBefore = process.memoryUsage().rss;
    t0 = performance.now();
    s = await MvccStore.open({ dir, sync: true });
    const openMs = performance.now() - t0;
    if (global.gc) global.gc();
    const mem = process.memoryUsage();
    console.log(
      `open (rebuild ${(2 * KEYS).toLocaleString('en-US')} revisions): ${openMs.toFixed(0)} ms; RSS ${mb(mem.rss)} (+${mb(mem.rss - rssBefore)}), heap ${mb(mem.heapUsed)}`,
    );
    if (s.rev !== rev) throw new Error('revision changed across restart');

    let maxGap = 0;
    let last = performance.now();
    let ticking = true;
    const tick = (): void => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    t0 = performance.now();
    await s.compact(rev).done;
    ticking = false;
    console.log(
      `compact ${KEYS.toLocaleString('en-US')} superseded revisions: ${(performance.now() - t0).toFixed(0)} ms, longest event-loop stall ${maxGap.toFixed(0)} ms`,
    );
    console.log(`db size: ${mb(s.dbSize())}, in use ${mb(s.dbSizeInUse())}`);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Index structure comparison: inserts of `n` random keys, then 10,000 scans of 100 keys. */
function benchIndex(n: number): void {
  const rng = new SeededRng(7);
  const keys = Array.from({ length: n }, () => keyOf(rng.int(1e9)).toString('latin1'));
  let t0 = performance.now();
  const tree = new BTree<number>();
  for (let i = 0; i < n; i++) tree.set(keys[i]!, i);
  const treeInsertMs = performance.now() - t0;
  t0 = performance.now();
  let seen = 0;
  for (let i = 0; i < 10_000; i++) {
    let left = 100;
    tree.visit(keys[i]!, () => {
      seen++;
      return --left > 0;
    });
  }
  const treeScanMs = performance.now() - t0;
  let arrayInsertMs = Number.NaN;
  if (n <= 300_000) {
    t0 = performance.now();
    const arr: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      let lo = 0;
      let hi = arr.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (arr[mid]! < k) lo = mid + 1;
        else hi = mid;
      }
      if (arr[lo] !== k) arr.splice(lo, 0, k);
    }
    arrayInsertMs = performance.now() - t0;
  }
  console.log(
    `index ${n.toLocaleString('en-US')} keys: B+tree inserts ${rate(n, treeInsertMs)}, scans of 100 ${rate(10_000, treeScanMs)} (${seen}); ` +
      `sorted array + splice inserts ${Number.isNaN(arrayInsertMs) ? 'skipped (quadratic)' : rate(n, arrayInsertMs)}`,
  );
}

if (INDEX_ONLY) {
  for (const n of [100_000, 300_000, KEYS]) benchIndex(n);
} else {
  await main();
}
