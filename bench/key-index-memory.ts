// A benchmark, not a test: bytes per key of the mvcc store's key index, and the time to reopen a
// store. `npm run bench:key-index -- [keys] [valueBytes]` (node --expose-gc; defaults 100,000 keys
// x 256 B). For a fresh store in a temp dir it writes `keys` keys (one put per write txn, a commit
// every 1000 txns, keys `/registry/pods/default/pod-NNNNNNNN`, 35 bytes), then reports after a
// full GC: JS heap used per key and RSS per key (growth over the empty store), then closes,
// reopens and reports the open time, the heap per key after the reopen and the first range of all
// keys (count only). Printed as one JSON line per phase, so before/after runs can be diffed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MvccStore } from '../src/mvcc/index.js';
import { helpFromHeader } from '../src/pkg/script-help.js';

helpFromHeader(import.meta.url);

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const KEYS = Number(args[0] ?? 100_000);
const VALUE_BYTES = Number(args[1] ?? 256);
const COMMIT_EVERY = 1000;

function keyOf(i: number): Buffer {
  return Buffer.from(`/registry/pods/default/pod-${String(i).padStart(8, '0')}`);
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with node --expose-gc');
  g();
  g();
}

function mem(): { heap: number; rss: number } {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

const dir = mkdtempSync(join(tmpdir(), 'key-index-bench-'));
try {
  const value = Buffer.alloc(VALUE_BYTES, 0x61);
  let s = await MvccStore.open({ dir, sync: false });
  const m0 = mem();
  const t0 = performance.now();
  for (let i = 0; i < KEYS; i++) {
    const txn = s.write(i + 1);
    txn.put(keyOf(i), value, 0n);
    txn.end();
    if ((i + 1) % COMMIT_EVERY === 0) await s.commit();
  }
  await s.commit();
  const loadMs = performance.now() - t0;
  const m1 = mem();
  const out = (phase: string, o: Record<string, unknown>): void =>
    console.log(JSON.stringify({ phase, keys: KEYS, ...o }));
  out('loaded', {
    ms: Math.round(loadMs),
    heapBytesPerKey: Math.round((m1.heap - m0.heap) / KEYS),
    rssBytesPerKey: Math.round((m1.rss - m0.rss) / KEYS),
    heapMiB: Math.round(m1.heap / 2 ** 20),
    rssMiB: Math.round(m1.rss / 2 ** 20),
  });
  await s.close();
  const m2 = mem();
  const t1 = performance.now();
  s = await MvccStore.open({ dir, sync: false });
  const openMs = performance.now() - t1;
  const m3 = mem();
  out('reopened', {
    openMs: Math.round(openMs),
    heapBytesPerKey: Math.round((m3.heap - m2.heap) / KEYS),
    heapMiB: Math.round(m3.heap / 2 ** 20),
    rssMiB: Math.round(m3.rss / 2 ** 20),
  });
  const t2 = performance.now();
  const all = s.range(Buffer.from([0]), Buffer.from([0]), { countOnly: true });
  if (all.count !== KEYS) throw new Error(`count ${all.count} != ${KEYS}`);
  const t3 = performance.now();
  let got = 0;
  for (let i = 0; i < 100_000; i++) got += s.range(keyOf((i * 7919) % KEYS), undefined).count;
  if (got !== 100_000) throw new Error('lost keys');
  const t4 = performance.now();
  out('reads', {
    countAllMs: Math.round(t3 - t2),
    pointReadUs: Number(((t4 - t3) / 100_000 * 1000).toFixed(2)),
  });
  await s.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
