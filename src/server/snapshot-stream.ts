/**
 * Maintenance.Snapshot's data: a consistent copy of the member's database streamed in chunks, as
 * etcd 3.4 streams its bbolt file. The caller's `copy` makes the file (api/snapshot-service.ts: lmdb's
 * own copy, `MvccStore.backupTo`, a read transaction on lmdb's thread so writes go on meanwhile,
 * rewritten as an etcd bbolt file by server/etcd-snapshot.ts) in a temporary folder under the data
 * dir that is removed when the stream ends. Chunks are 32 KiB (etcd's snapshotSendBufferSize), each carrying the bytes still
 * to come; after the database comes one more message holding the SHA-256 of the database bytes,
 * which `etcdctl snapshot save` appends to the file and `tsetcd snapshot restore` verifies.
 *
 * Like etcd 3.4 the messages carry no response header.
 */
import { createHash } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes of database per message (etcd: 32 KiB). */
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;

export interface SnapshotChunk {
  /** Database bytes still to come after this chunk (0 on the last one and on the checksum). */
  remainingBytes: bigint;
  blob: Buffer;
}

let sequence = 0;

/**
 * Copies the store's database (`copy`: `MvccStore.backupTo`, while the store cannot be swapped out)
 * into a scratch folder under `snapDir`, then yields it chunk by chunk
 * and finally the checksum message. The scratch copy is removed when the generator finishes or is
 * abandoned (`return()`), so a cancelled client leaves nothing behind.
 */
export async function* databaseSnapshot(
  copy: (dir: string) => Promise<string>,
  snapDir: string,
  onPrepared?: (info: { bytes: number; ms: number }) => void,
): AsyncGenerator<SnapshotChunk> {
  const dir = join(snapDir, `client-snapshot-${process.pid}-${Date.now()}-${sequence++}`);
  try {
    const started = performance.now();
    const file = await copy(dir);
    const total = statSync(file).size;
    onPrepared?.({ bytes: total, ms: Math.round(performance.now() - started) });
    const hash = createHash('sha256');
    const fh = await open(file, 'r');
    try {
      let sent = 0;
      while (sent < total) {
        const buf = Buffer.allocUnsafe(Math.min(SNAPSHOT_CHUNK_BYTES, total - sent));
        const { bytesRead } = await fh.read(buf, 0, buf.length, sent);
        if (bytesRead === 0) throw new Error(`snapshot copy ${file} ended at ${sent} of ${total} bytes`);
        const blob = buf.subarray(0, bytesRead);
        sent += bytesRead;
        hash.update(blob);
        yield { remainingBytes: BigInt(total - sent), blob };
      }
    } finally {
      await fh.close();
    }
    yield { remainingBytes: 0n, blob: hash.digest() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
