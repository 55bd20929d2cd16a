/**
 * etcdctl 3.4's `make-mirror` (ctlv3/command/make_mirror_command.go with clientv3/mirror's Syncer):
 * copy the keys under --prefix as of one revision in pages of 1000, then follow a watch from the
 * next revision and replay each revision's events as one transaction on the destination, with keys
 * renamed from --prefix to --dest-prefix (or to the root with --no-dest-prefix). Every 30 s it
 * prints how many keys it has put or deleted so far, as etcdctl does. It runs until an error: a
 * compacted watch ends it with etcd's "required revision has been compacted".
 */
import { readFileSync } from 'node:fs';
import { Client, type ClientOptions, op, prefixEnd, WatchCompactedError } from '../../client/index.js';
import type { RequestOp } from '../../proto/etcdserverpb/rpc.js';
import { Event_EventType } from '../../proto/mvccpb/kv.js';
import { type Command, type Ctx, command, ExitCodeError } from './command.js';
import { UsageError } from './flags.js';

/** clientv3/mirror's batchLimit: keys per page of the base copy. */
export const MIRROR_PAGE_KEYS = 1000;
/** How often make-mirror prints its count (etcdctl: 30 s). */
export const MIRROR_REPORT_INTERVAL_MS = 30_000;

/** What to mirror: source prefix, the prefix it becomes, and where counts are printed. */
export interface MirrorSpec {
  prefix: string;
  destPrefix: string;
  reportIntervalMs: number;
  report(total: number): void;
  /** Stops the mirror (tests); without it, it runs until an error. */
  signal?: AbortSignal;
}

/** strings.Replace(key, prefix, destPrefix, 1): the first occurrence, wherever it is. */
function renameKey(key: Buffer, prefix: string, destPrefix: string): Buffer {
  if (prefix === '') return Buffer.concat([Buffer.from(destPrefix), key]);
  const i = key.indexOf(prefix);
  if (i < 0) return key;
  return Buffer.concat([
    key.subarray(0, i),
    Buffer.from(destPrefix),
    key.subarray(i + Buffer.byteLength(prefix)),
  ]);
}

/**
 * Mirrors `src` into `dst` until an error (rejects with it) or until `spec.signal` aborts
 * (resolves). Resolves with the count of keys put or deleted.
 */
export async function makeMirror(src: Client, dst: Client, spec: MirrorSpec): Promise<number> {
  let total = 0;
  const timer = setInterval(() => spec.report(total), spec.reportIntervalMs);
  try {
    // the revision of the base copy (clientv3/mirror asks for a key it does not need)
    const rev = (await src.kv.get('foo')).header!.revision;
    // the whole key space from "\0", or the prefix's range, a page at a time
    let key = spec.prefix === '' ? Buffer.from([0]) : Buffer.from(spec.prefix);
    const range = spec.prefix === '' ? { fromKey: true } : { rangeEnd: prefixEnd(Buffer.from(spec.prefix)) };
    for (;;) {
      const r = await src.kv.get(key, { ...range, limit: BigInt(MIRROR_PAGE_KEYS), revision: rev });
      for (const kv of r.kvs) {
        await dst.kv.put(renameKey(kv.key, spec.prefix, spec.destPrefix), kv.value);
        total++;
      }
      if (!r.more || r.kvs.length === 0) break;
      key = Buffer.concat([r.kvs[r.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    const w = src.watch(spec.prefix, { prefix: true, startRevision: rev + 1n });
    spec.signal?.addEventListener('abort', () => w.cancel(), { once: true });
    for await (const b of w) {
      let lastRev = 0n;
      let ops: RequestOp[] = [];
      for (const ev of b.events) {
        const kv = ev.kv!;
        if (lastRev !== 0n && kv.modRevision > lastRev) {
          await dst.kv
            .txn()
            .onSuccess(...ops)
            .commit();
          ops = [];
        }
        lastRev = kv.modRevision;
        const k = renameKey(kv.key, spec.prefix, spec.destPrefix);
        ops.push(ev.type === Event_EventType.DELETE ? op.delete(k) : op.put(k, kv.value));
        total++;
      }
      if (ops.length !== 0)
        await dst.kv
          .txn()
          .onSuccess(...ops)
          .commit();
    }
    return total;
  } finally {
    clearInterval(timer);
  }
}

/** The destination client: its endpoint, the dest-* TLS flags, the global timeouts, no user. */
function destOptions(ctx: Ctx, endpoint: string): ClientOptions {
  const file = (n: string) => (ctx.flag(n) !== '' ? readFileSync(ctx.flag(n)) : undefined);
  const ca = file('dest-cacert');
  const cert = file('dest-cert');
  const key = file('dest-key');
  const tls = ca || cert || key || ctx.flag('dest-insecure-transport') === 'false';
  return {
    endpoints: [endpoint],
    ...(tls
      ? {
          tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) },
        }
      : {}),
  };
}

/** The make-mirror command. */
export const MIRROR_COMMAND: Command = command(
  'make-mirror',
  'make-mirror [options] <destination>',
  'Makes a mirror at the destination etcd cluster',
  {
    prefix: { kind: 'string', default: '', help: 'Key-value prefix to mirror' },
    'dest-prefix': {
      kind: 'string',
      default: '',
      help: 'destination prefix to mirror a prefix to a different prefix in the destination cluster',
    },
    'no-dest-prefix': {
      kind: 'bool',
      default: 'false',
      help: 'mirror key-values to the root of the destination cluster',
    },
    'dest-cert': {
      kind: 'string',
      default: '',
      help: 'Identify secure client using this TLS certificate file for the destination cluster',
    },
    'dest-key': { kind: 'string', default: '', help: 'Identify secure client using this TLS key file' },
    'dest-cacert': {
      kind: 'string',
      default: '',
      help: 'Verify certificates of TLS enabled secure servers using this CA bundle',
    },
    'dest-insecure-transport': {
      kind: 'bool',
      default: 'true',
      help: 'Disable transport security for client connections',
    },
  },
  async (ctx) => {
    if (ctx.args.length !== 1) throw new UsageError('make-mirror takes one destination argument');
    const prefix = ctx.flag('prefix');
    const noDest = ctx.flag('no-dest-prefix') === 'true';
    if (noDest && ctx.flag('dest-prefix') !== '')
      throw new UsageError(
        '`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one',
      );
    const destPrefix = noDest ? '' : ctx.flag('dest-prefix') || prefix;
    const dst = new Client(destOptions(ctx, ctx.args[0]!));
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    try {
      await makeMirror(await ctx.client(), dst, {
        prefix,
        destPrefix,
        reportIntervalMs: MIRROR_REPORT_INTERVAL_MS,
        report: (n) => ctx.out.out(`${n}\n`),
        signal: stop.signal,
      });
    } catch (e) {
      if (e instanceof WatchCompactedError)
        throw new ExitCodeError(1, 'etcdserver: mvcc: required revision has been compacted');
      throw e;
    } finally {
      dst.close();
    }
  },
);
