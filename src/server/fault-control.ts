/**
 * Test-only fault control of one member process, for the Jepsen-style suite (test/jepsen) that runs
 * members as separate processes. Like etcd's gofail (GOFAIL_HTTP), it exists only when the
 * environment asks for it: with `TSETCD_FAILPOINT_ADDR=127.0.0.1:<port>` the member gets its own
 * `FaultHooks` on the peer transport and a WAL file system that can fail, both driven by a tiny
 * HTTP server on that address. Without the variable nothing here is constructed: the member uses
 * the real file system and no fault hooks, so production pays nothing.
 *
 * Endpoints (POST with a JSON body unless noted; member ids as decimal strings):
 * - `/partition` `{"groups": [["1","2"],["3"]]}`   FaultHooks.partition
 * - `/block`     `{"from": "1", "to": "2"}`         FaultHooks.blockLink (one direction)
 * - `/link`      `{"from": "1"|"*", "to": "2"|"*", "dropProbability": 0.3, "delayMs": 50}`
 * - `/heal`      partitions and blocked links removed; `/reset` also drop/delay rules
 * - `/wal`       `{"failFsync": "EIO"}` the next WAL/snapshot fdatasync fails with that errno;
 *                `{"diskFull": true}` every write fails with ENOSPC until `{"diskFull": false}`
 * - `/store`     the same two for the lmdb store (store-fault-hooks.ts): the next batch's fsync
 *                fails, or every batch fails with ENOSPC
 * - `/slow-disk` `{"fsyncDelayMs": 200}` every WAL fdatasync and store batch takes that much longer
 *                (0.1-1.9x each); 0 clears it; with `"storeOnly": true` only the store's batches
 *                (a slow data disk, the WAL on a disk of its own: etcd's --wal-dir)
 * - `GET /status` `{"walFaultsFired": n, "storeFaultsFired": n, "slowFsyncs": n}`
 * Also test-only tuning, read from the environment only when failpoints are enabled:
 * `TSETCD_FAILPOINT_SNAPSHOT_CATCHUP_ENTRIES=n` keeps only n entries after a snapshot (etcd 3.4 has
 * no flag for it), so a follower that was down for a while must catch up by snapshot;
 * `TSETCD_FAILPOINT_BREAK_STORE_BATCH_ORDER=1` breaks the store on purpose (FAILPOINT_UNORDERED_ENV).
 * `TSETCD_FAILPOINT_GIVE_UP_WITHOUT_LEADER_MS=<ms>` makes a member without a leader exit after that
 * long (FAILPOINT_GIVE_UP_ENV), where etcd waits.
 * The partition semantics are FaultHooks' (src/transport/faults.ts): each process must be told the
 * same partition; a transport checks both its sending and its receiving side.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { FaultHooks, type LinkEnd } from '../transport/index.js';
import { type WalFile, WrappingWalFs } from '../wal/index.js';
import { FSYNC_DELAY_MS_MAX, InjectedStoreFaults, jitteredDelayMs } from './store-fault-hooks.js';

/** The environment variable that enables the failpoint server: `host:port` to listen on. */
export const FAILPOINT_ADDR_ENV = 'TSETCD_FAILPOINT_ADDR';
/** Test-only: entries kept after a snapshot for slow followers (MemberConfig.snapshotCatchUpEntries). */
export const FAILPOINT_CATCHUP_ENV = 'TSETCD_FAILPOINT_SNAPSHOT_CATCHUP_ENTRIES';
/**
 * Test-only, `1`: a deliberately broken store whose lmdb batches may overtake each other under a slow
 * disk (StoreFaults.unordered) — the build that test/jepsen's slow-disk-kill run must catch.
 */
export const FAILPOINT_UNORDERED_ENV = 'TSETCD_FAILPOINT_BREAK_STORE_BATCH_ORDER';
/**
 * Test-only, `<ms>`: a deliberately broken member that gives up (exits) when it has had no leader for
 * that long after start, where etcd keeps waiting — issue 16's bug, which test/jepsen's
 * kill-all-staggered run must catch (MemberConfig.giveUpWithoutLeaderMs).
 */
export const FAILPOINT_GIVE_UP_ENV = 'TSETCD_FAILPOINT_GIVE_UP_WITHOUT_LEADER_MS';

function errnoError(code: string, op: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected ${op} failure (failpoint)`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** The real WAL file system with injectable failures: one failing fdatasync, or a full disk. */
export class FailingWalFs extends WrappingWalFs {
  /** errno the next datasync fails with (consumed by that datasync). */
  failNextFsync: string | undefined;
  /** While set, every write fails with ENOSPC. */
  diskFull = false;
  /** How many injected failures actually fired. */
  fired = 0;
  /** Added to every datasync, ms (a slow disk); 0 = none. */
  fsyncDelayMs = 0;
  /** How many datasyncs were slowed down. */
  delayed = 0;

  protected wrap(f: WalFile): WalFile {
    return {
      write: (buf, off, len, pos) => {
        if (this.diskFull) {
          this.fired++;
          return Promise.reject(errnoError('ENOSPC', 'write'));
        }
        return f.write(buf, off, len, pos);
      },
      read: (buf, off, len, pos) => f.read(buf, off, len, pos),
      truncate: (n) => f.truncate(n),
      size: () => f.size(),
      close: () => f.close(),
      datasync: () => {
        const code = this.failNextFsync;
        if (code !== undefined) {
          this.failNextFsync = undefined;
          this.fired++;
          return Promise.reject(errnoError(code, 'fdatasync'));
        }
        const ms = jitteredDelayMs(this.fsyncDelayMs, this.delayed);
        if (ms === 0) return f.datasync();
        this.delayed++;
        return new Promise<void>((r) => setTimeout(r, ms)).then(() => f.datasync());
      },
      ...(f.datasyncNow
        ? {
            datasyncNow: () => {
              const code = this.failNextFsync;
              if (code !== undefined) {
                this.failNextFsync = undefined;
                this.fired++;
                throw errnoError(code, 'fdatasync');
              }
              f.datasyncNow!();
            },
          }
        : {}),
    };
  }
}

/** The fault layers a member is built with when failpoints are enabled, and their control server. */
export interface FaultControl {
  transportFaults: FaultHooks;
  walFs: FailingWalFs;
  /** The store's (lmdb) disk faults (MemberConfig.storeFaults). */
  storeFaults: InjectedStoreFaults;
  /** Member configuration overrides from the test-only tuning variables. */
  memberOverrides: { snapshotCatchUpEntries?: number; giveUpWithoutLeaderMs?: number };
  /** Starts the HTTP control server; resolves once it listens. */
  listen(): Promise<void>;
  close(): Promise<void>;
}

const id = (v: unknown): bigint => {
  if (typeof v !== 'string' || !/^\d+$/.test(v))
    throw new Error(`member id must be a decimal string, got ${v}`);
  return BigInt(v);
};
const end = (v: unknown): LinkEnd => (v === '*' ? '*' : id(v));

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** FaultControl when `env` enables them (FAILPOINT_ADDR_ENV set), else undefined. */
export function faultControlFromEnv(env: NodeJS.ProcessEnv): FaultControl | undefined {
  const addr = env[FAILPOINT_ADDR_ENV];
  if (addr === undefined || addr === '') return undefined;
  const m = /^(.+):(\d+)$/.exec(addr);
  if (!m) throw new Error(`${FAILPOINT_ADDR_ENV} must be host:port, got ${addr}`);
  const host = m[1]!;
  const port = Number(m[2]);
  const transportFaults = new FaultHooks();
  const walFs = new FailingWalFs();
  let server: Server | undefined;
  const storeFaults = new InjectedStoreFaults(env[FAILPOINT_UNORDERED_ENV] === '1');
  const memberOverrides: FaultControl['memberOverrides'] = {};
  const catchUp = env[FAILPOINT_CATCHUP_ENV];
  if (catchUp !== undefined && catchUp !== '') {
    if (!/^\d+$/.test(catchUp)) throw new Error(`${FAILPOINT_CATCHUP_ENV} must be a number, got ${catchUp}`);
    memberOverrides.snapshotCatchUpEntries = Number(catchUp);
  }
  const giveUp = env[FAILPOINT_GIVE_UP_ENV];
  if (giveUp !== undefined && giveUp !== '') {
    if (!/^[1-9]\d*$/.test(giveUp))
      throw new Error(`${FAILPOINT_GIVE_UP_ENV} must be a positive number of ms, got ${giveUp}`);
    memberOverrides.giveUpWithoutLeaderMs = Number(giveUp);
  }

  const handle = async (path: string, b: Record<string, unknown>): Promise<unknown> => {
    switch (path) {
      case '/partition':
        transportFaults.partition(...(b.groups as unknown[][]).map((g) => g.map(id)));
        return {};
      case '/block':
        transportFaults.blockLink(id(b.from), id(b.to));
        return {};
      case '/link':
        transportFaults.setLink(end(b.from), end(b.to), {
          dropProbability: Number(b.dropProbability ?? 0),
          delayMs: Number(b.delayMs ?? 0),
        });
        return {};
      case '/heal':
        transportFaults.heal();
        return {};
      case '/reset':
        transportFaults.reset();
        walFs.failNextFsync = undefined;
        walFs.diskFull = false;
        walFs.fsyncDelayMs = 0;
        storeFaults.reset();
        return {};
      case '/wal':
        if (b.failFsync !== undefined)
          walFs.failNextFsync = b.failFsync === null ? undefined : String(b.failFsync);
        if (b.diskFull !== undefined) walFs.diskFull = b.diskFull === true;
        return {};
      case '/store':
        if (b.failFsync !== undefined)
          storeFaults.failNextFsync = b.failFsync === null ? undefined : String(b.failFsync);
        if (b.diskFull !== undefined) storeFaults.diskFull = b.diskFull === true;
        return {};
      case '/slow-disk': {
        const ms = Number(b.fsyncDelayMs ?? 0);
        if (!Number.isInteger(ms) || ms < 0 || ms > FSYNC_DELAY_MS_MAX)
          throw new Error(
            `fsyncDelayMs must be an integer in [0, ${FSYNC_DELAY_MS_MAX}], got ${b.fsyncDelayMs}`,
          );
        if (b.storeOnly !== true) walFs.fsyncDelayMs = ms; // storeOnly: the WAL on a disk of its own
        storeFaults.fsyncDelayMs = ms;
        return {};
      }
      case '/status':
        return {
          walFaultsFired: walFs.fired,
          storeFaultsFired: storeFaults.fired,
          slowFsyncs: walFs.delayed + storeFaults.delayed,
        };
      default:
        throw new Error(`unknown failpoint endpoint ${path}`);
    }
  };

  return {
    transportFaults,
    walFs,
    storeFaults,
    memberOverrides,
    listen: () =>
      new Promise((resolve, reject) => {
        server = createServer((req, res) => {
          body(req)
            .then((b) => handle(new URL(req.url ?? '/', 'http://x').pathname, b))
            .then(
              (out) => {
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end(JSON.stringify(out));
              },
              (err: Error) => {
                res.writeHead(400, { 'content-type': 'text/plain' });
                res.end(err.message);
              },
            );
        });
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      }),
    close: () => new Promise((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}
