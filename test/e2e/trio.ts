// Three in-process members on real peer sockets sharing one set of transport fault hooks, for
// tests that need to partition, isolate or stall members directly. Everything is stopped and the
// data removed when the test ends.

import { Member, type MemberConfig } from '../../src/server/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { FaultHooks } from '../../src/transport/index.js';
import { freePort, tempDir, waitFor } from '../helpers/index.js';

export interface Trio {
  members: Member[];
  faults: FaultHooks;
  dataDir: string;
}

/** Starts the members (with `extra` config each) and waits until all three follow one leader. */
export async function startTrio(
  prefix: string,
  t: { after(fn: () => unknown): void },
  extra: Partial<MemberConfig> = {},
): Promise<Trio> {
  const dir = tempDir(prefix);
  const faults = new FaultHooks();
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  const initialCluster = ports.map((p, i) => ({ name: `m${i}`, peerUrls: [`http://127.0.0.1:${p}`] }));
  const members: Member[] = [];
  t.after(async () => {
    faults.reset();
    await Promise.all(members.map((m) => m.stop().catch(() => {})));
    dir.remove();
  });
  members.push(
    ...(await Promise.all(
      ports.map((port, i) =>
        Member.start(
          {
            name: `m${i}`,
            dataDir: `${dir.path}/m${i}`,
            clientUrls: [],
            peerUrls: [`http://127.0.0.1:${port}`],
            initialCluster,
            initialClusterToken: prefix,
            maxRequestBytes: 1 << 20,
            maxTxnOps: 128,
            quotaBackendBytes: 0,
            listenPeer: { host: '127.0.0.1', port },
            transportFaults: faults,
            ...extra,
          },
          silentLogger,
        ),
      ),
    )),
  );
  await waitFor(() => members.every((m) => m.leader !== 0n && m.leader === members[0]!.leader), {
    what: 'one leader',
  });
  return { members, faults, dataDir: dir.path };
}
