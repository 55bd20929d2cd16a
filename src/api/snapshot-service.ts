/**
 * Maintenance.Snapshot on the wire: pumps `databaseSnapshot` into the server stream, respecting the
 * transport's flow control (waits for drain when the buffer is full) and stopping (removing the
 * scratch copy) when the client goes away.
 */
import type { SnapshotRequest, SnapshotResponse } from '../proto/etcdserverpb/rpc.js';
import {
  CLUSTER_VERSION,
  databaseSnapshot,
  etcdSnapshotPaths,
  type Member,
  writeEtcdSnapshot,
} from '../server/index.js';
import { type StreamCall, toGrpcError } from './grpc-server.js';

export function serveSnapshot(member: Member, call: StreamCall<SnapshotRequest, SnapshotResponse>): void {
  let started = false;
  call.onMessage(() => {
    if (started) return;
    started = true;
    void pump(member, call);
  });
}

async function pump(member: Member, call: StreamCall<SnapshotRequest, SnapshotResponse>): Promise<void> {
  let wakeDrain: (() => void) | undefined;
  call.onDrain(() => wakeDrain?.());
  call.onClose(() => wakeDrain?.());
  const started = performance.now();
  let bytes = 0;
  const chunks = databaseSnapshot(
    // etcd's format (bbolt), so etcd's tools can read what etcdctl saves: see server/etcd-snapshot.ts.
    async (dir) => {
      const { copyDir, file } = etcdSnapshotPaths(dir);
      await member.withStore((store) => store.backupTo(copyDir));
      return writeEtcdSnapshot(copyDir, file, CLUSTER_VERSION);
    },
    member.cfg.layout.snapDir,
    (info) => {
      bytes = info.bytes;
      member.logger.info(
        { 'total-bytes': info.bytes, 'copy-ms': info.ms },
        'sending database snapshot to client',
      );
    },
  );
  try {
    for await (const chunk of chunks) {
      if (call.closed) return;
      // etcd 3.4 sends no header on snapshot messages.
      if (!call.write({ header: undefined, remainingBytes: chunk.remainingBytes, blob: chunk.blob })) {
        await new Promise<void>((resolve) => {
          wakeDrain = resolve;
        });
        wakeDrain = undefined;
      }
    }
    member.logger.info(
      { 'total-bytes': bytes, took: `${Math.round(performance.now() - started)}ms` },
      'sent database snapshot to client',
    );
    call.end();
  } catch (err) {
    member.logger.warn({ err: String(err) }, 'failed to send database snapshot to client');
    call.end(toGrpcError(err));
  } finally {
    await chunks.return(undefined);
    // etcd observes the backend snapshot when it is closed, whatever the outcome.
    member.metrics.backendSnapshotSeconds.observe((performance.now() - started) / 1000);
  }
}
