/**
 * WAL benchmark (not a test): `npm run bench:wal` (= node dist/bench/wal.js).
 *
 * 1. The physical limit: the raw fdatasync rate of this disk, measured by this program writing
 *    128 bytes then fdatasync'ing, in a loop, into a preallocated file.
 * 2. WAL append throughput under 1, 10, 100 and 1000 concurrent writers: each writer awaits its own
 *    save of one entry of 100-256 bytes, continuously, for a fixed time. Reports entries/s, MB/s,
 *    fdatasyncs/s, entries per fdatasync (group commit at work) and save latency p50/p99.
 *
 * Flags: --seconds N (per measurement, default 3), --dir PATH (default: the OS temp dir; put it
 * on the disk you care about), --writers 1,10,100,1000.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SeededRng } from '../src/pkg/rng.js';
import type { Entry } from '../src/raft/types.js';
import { Wal } from '../src/wal/wal.js';
import { helpFromHeader } from '../src/pkg/script-help.js';

helpFromHeader(import.meta.url);

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const seconds = Number(flag('seconds', '3'));
const baseDir = flag('dir', tmpdir());
const writerCounts = flag('writers', '1,10,100,1000').split(',').map(Number);

async function rawFsyncRate(dir: string): Promise<number> {
  const fh = await open(join(dir, 'raw'), 'w+');
  try {
    const size = 16 * 1024 * 1024;
    const zeros = new Uint8Array(1024 * 1024);
    for (let p = 0; p < size; p += zeros.length) await fh.write(zeros, 0, zeros.length, p);
    await fh.datasync();
    const buf = new Uint8Array(128).fill(7);
    let n = 0;
    let pos = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      await fh.write(buf, 0, buf.length, pos);
      await fh.datasync();
      pos = (pos + buf.length) % size;
      n++;
    }
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await fh.close();
  }
}

interface Row {
  writers: number;
  entries: number;
  bytes: number;
  fsyncs: number;
  elapsed: number;
  p50: number;
  p99: number;
}

async function walRun(dir: string, writers: number): Promise<Row> {
  let fsyncs = 0;
  const wal = await Wal.create(
    join(dir, `wal-${writers}`),
    { memberId: 1n, clusterId: 1n },
    { onFsync: () => fsyncs++ },
  );
  const rng = new SeededRng(writers);
  const payloads = Array.from({ length: 256 }, () => new Uint8Array(100 + rng.int(157)).fill(rng.int(256)));
  let next = 1;
  let entries = 0;
  let bytes = 0;
  const lat: number[] = [];
  const fsync0 = fsyncs;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const one = async (): Promise<void> => {
    while (performance.now() < end) {
      const index = next++;
      const data = payloads[index & 255]!;
      const e: Entry = { term: 1, index, type: 0, data };
      const s = performance.now();
      await wal.save({ term: 1, vote: 1n, commit: index - 1 }, [e]);
      lat.push(performance.now() - s);
      entries++;
      bytes += data.length;
    }
  };
  await Promise.all(Array.from({ length: writers }, one));
  const elapsed = (performance.now() - t0) / 1000;
  await wal.close();
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return { writers, entries, bytes, fsyncs: fsyncs - fsync0, elapsed, p50: q(0.5), p99: q(0.99) };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(baseDir, 'tsetcd-wal-bench-'));
  try {
    console.log(`WAL benchmark in ${dir}, ${seconds}s per measurement (node ${process.version})`);
    const raw = await rawFsyncRate(dir);
    console.log(`raw write(128 B)+fdatasync rate of this disk: ${raw.toFixed(0)} /s (the physical limit)\n`);
    const pad = (s: string, n: number): string => s.padStart(n);
    console.log(
      [
        pad('writers', 8),
        pad('entries/s', 11),
        pad('MB/s', 7),
        pad('fsyncs/s', 9),
        pad('ents/fsync', 11),
        pad('p50 ms', 8),
        pad('p99 ms', 8),
      ].join(' '),
    );
    for (const w of writerCounts) {
      const r = await walRun(dir, w);
      console.log(
        [
          pad(String(r.writers), 8),
          pad((r.entries / r.elapsed).toFixed(0), 11),
          pad((r.bytes / r.elapsed / 1e6).toFixed(2), 7),
          pad((r.fsyncs / r.elapsed).toFixed(0), 9),
          pad((r.entries / Math.max(1, r.fsyncs)).toFixed(1), 11),
          pad(r.p50.toFixed(2), 8),
          pad(r.p99.toFixed(2), 8),
        ].join(' '),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
