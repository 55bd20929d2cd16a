/**
 * Raft core benchmark (npm run bench:raft): a 3-member in-process cluster over an instant network
 * (messages handed straight to the receiver's step()), MemoryStorage as the "disk". Reports
 * committed entries per second with and without proposal batching and with the wire codec in the
 * path, plus approximate heap bytes allocated per committed entry.
 *
 *   node dist/test/sim/bench.js [--entries N] [--size BYTES]
 *
 * Allocation is measured in a child process started with a young generation large enough that no
 * garbage collection runs during the measured window (checked with a GC observer): the growth of
 * heapUsed over the window then approximates the bytes allocated.
 */
import { spawnSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SeededRng } from '../../src/pkg/rng.js';
import { helpFromHeader } from '../../src/pkg/script-help.js';
import { decodeMessage, encodeMessage, MemoryStorage, type Message, RawNode } from '../../src/raft/index.js';

helpFromHeader(import.meta.url);

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const ENTRIES = arg('--entries', 300_000);
const SIZE = arg('--size', 128);

interface Member {
  id: bigint;
  storage: MemoryStorage;
  raw: RawNode;
  applied: number;
}

class Cluster {
  readonly members: Member[] = [];
  private queue: Message[] = [];
  committed = 0;

  constructor(readonly codec: boolean) {
    const ids = [1n, 2n, 3n];
    for (const id of ids) {
      const storage = new MemoryStorage();
      const raw = new RawNode({
        id,
        storage,
        rng: new SeededRng(Number(id)),
        maxSizePerMsg: 1024 * 1024,
        maxInflightMsgs: 256,
      });
      raw.bootstrap(ids);
      this.members.push({ id, storage, raw, applied: 0 });
    }
    this.pump(); // persist and apply the bootstrap entries: no campaign before that
    this.members[0]!.raw.campaign();
    this.pump();
  }

  /** Handles Readys and delivers messages until the cluster is quiet. */
  pump(): void {
    for (;;) {
      let any = false;
      for (const m of this.members) {
        if (!m.raw.hasReady()) continue;
        any = true;
        const rd = m.raw.ready();
        if (rd.entries.length > 0) m.storage.append(rd.entries);
        if (rd.hardState) m.storage.setHardState(rd.hardState);
        for (const msg of rd.messages) this.queue.push(this.codec ? decodeMessage(encodeMessage(msg)) : msg);
        const n = rd.committedEntries.length;
        if (n > 0) {
          m.applied = rd.committedEntries[n - 1]!.index;
          if (m.id === 1n) this.committed += n;
        }
        m.raw.advance();
        // Keep memory flat: compact well behind the applied index, as a server would.
        if (m.applied - m.storage.firstIndex() > 20_000) {
          m.storage.createSnapshot(m.applied - 10_000, null, new Uint8Array(0));
          m.storage.compact(m.applied - 10_000);
        }
      }
      if (this.queue.length > 0) {
        any = true;
        const q = this.queue;
        this.queue = [];
        for (const msg of q) this.members[Number(msg.to) - 1]!.raw.step(msg);
      }
      if (!any) return;
    }
  }

  /** Proposes `count` entries in batches of `batch` and waits until all are committed. */
  run(count: number, batch: number, payload: Uint8Array): void {
    const leader = this.members[0]!.raw;
    const target = this.committed + count;
    const datas = Array.from({ length: batch }, () => payload);
    let proposed = 0;
    while (this.committed < target) {
      if (proposed < count) {
        if (batch === 1) leader.propose(payload);
        else leader.proposeBatch(datas);
        proposed += batch;
      }
      this.pump();
    }
  }
}

function throughput(codec: boolean, batch: number, entries: number): number {
  const c = new Cluster(codec);
  const payload = new Uint8Array(SIZE).fill(7);
  c.run(Math.min(20_000, entries), batch, payload); // warm up the JIT
  const t0 = process.hrtime.bigint();
  c.run(entries, batch, payload);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return entries / secs;
}

function allocChild(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const rows: Record<string, number | string> = {};
  for (const [name, codec, batch] of [
    ['batch 64', false, 64],
    ['batch 1', false, 1],
    ['batch 64 + codec', true, 64],
  ] as const) {
    const c = new Cluster(codec);
    const payload = new Uint8Array(SIZE).fill(7);
    c.run(20_000, batch, payload);
    let gcs = 0;
    const obs = new PerformanceObserver((list) => {
      gcs += list.getEntries().length;
    });
    gc();
    obs.observe({ entryTypes: ['gc'] });
    const n = 5_000;
    const h0 = process.memoryUsage().heapUsed;
    c.run(n, batch, payload);
    const h1 = process.memoryUsage().heapUsed;
    obs.disconnect();
    rows[name] = gcs === 0 ? Math.round((h1 - h0) / n) : `n/a (${gcs} GCs in window)`;
  }
  process.stdout.write(JSON.stringify(rows));
}

function main(): void {
  if (process.argv.includes('--alloc-child')) {
    allocChild();
    return;
  }
  console.log(
    `raft bench: 3 members, instant network, ${ENTRIES} entries of ${SIZE} bytes, node ${process.version}`,
  );
  const rows: [string, number][] = [
    ['batch 64', throughput(false, 64, ENTRIES)],
    ['batch 64 + codec', throughput(true, 64, ENTRIES)],
    ['batch 1 (no batching)', throughput(false, 1, Math.min(ENTRIES, 100_000))],
  ];
  const child = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      '--min-semi-space-size=256',
      '--max-semi-space-size=256',
      fileURLToPath(import.meta.url),
      '--alloc-child',
      '--size',
      String(SIZE),
    ],
    { encoding: 'utf8' },
  );
  let alloc: Record<string, number | string> = {};
  try {
    alloc = JSON.parse(child.stdout) as Record<string, number | string>;
  } catch {
    console.error(`allocation child failed: ${child.stderr}`);
  }
  console.log(`${'mode'.padEnd(24)}${'entries/s'.padStart(12)}${'heap B/entry'.padStart(14)}`);
  for (const [name, eps] of rows) {
    const key = name.startsWith('batch 1 ') ? 'batch 1' : name;
    console.log(
      `${name.padEnd(24)}${Math.round(eps).toLocaleString('en-US').padStart(12)}${String(alloc[key] ?? '?').padStart(14)}`,
    );
  }
}

main();
