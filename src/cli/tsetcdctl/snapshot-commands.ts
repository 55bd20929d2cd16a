/**
 * etcdctl 3.4's `snapshot save|status|restore` (ctlv3/command/snapshot_command.go). Save streams the
 * Snapshot RPC to `<file>.part` and renames it (a progress bar on stderr only when that is a
 * terminal). Status and restore are offline and read both etcd's bbolt snapshots and tsetcd's lmdb
 * ones through `tsetcd snapshot`'s code (src/cli/snapshot.ts, loaded only when used); restore builds
 * a tsetcd data dir.
 */
import { closeSync, createWriteStream, openSync, renameSync } from 'node:fs';
import { ProgressBar } from '../ui/index.js';
import { type Command, command, display, ExitCodeError } from './command.js';
import { type FlagSpecs, UsageError } from './flags.js';
import { humanizeBytes } from './go-format.js';
import { table } from './output.js';

/** etcdctl's exit code when a save fails (ExitInterrupted). */
const EXIT_INTERRUPTED = 5;

const RESTORE_FLAGS: FlagSpecs = {
  'data-dir': { kind: 'string', default: '', help: 'Path to the data directory' },
  'wal-dir': {
    kind: 'string',
    default: '',
    help: 'Path to the WAL directory (use --data-dir if none given)',
  },
  'initial-cluster': {
    kind: 'string',
    default: 'default=http://localhost:2380',
    help: 'Initial cluster configuration for restore bootstrap',
  },
  'initial-cluster-token': {
    kind: 'string',
    default: 'etcd-cluster',
    help: 'Initial cluster token for the etcd cluster during restore bootstrap',
  },
  'initial-advertise-peer-urls': {
    kind: 'string',
    default: 'http://localhost:2380',
    help: "List of this member's peer URLs to advertise to the rest of the cluster",
  },
  name: { kind: 'string', default: 'default', help: 'Human-readable name for this member' },
  'skip-hash-check': {
    kind: 'bool',
    default: 'false',
    help: 'Ignore snapshot integrity hash value (required if copied from data directory)',
  },
};

/** A failure of the offline snapshot code, printed as etcdctl prints it (exit 1). */
function offlineError(e: unknown): never {
  throw new ExitCodeError(1, (e as Error).message);
}

/** The snapshot commands. */
export const SNAPSHOT_COMMANDS: Command[] = [
  command(
    'snapshot save',
    'snapshot save <filename>',
    'Stores an etcd node backend snapshot to a given file',
    {},
    async (ctx) => {
      if (ctx.args.length !== 1) throw new UsageError('snapshot save expects one argument');
      const eps = ctx.flag('endpoints').split(',');
      if (eps.length !== 1)
        throw new UsageError(
          `snapshot must be requested to one selected node, not multiple [${eps.join(' ')}]`,
        );
      const path = ctx.args[0]!;
      const part = `${path}.part`;
      const c = await ctx.client();
      const file = createWriteStream(part);
      let done = 0;
      let bar: ProgressBar | undefined;
      try {
        for await (const chunk of c.maintenance.snapshot({ deadlineMs: 24 * 3600_000 })) {
          done += chunk.blob.length;
          if (bar === undefined && process.stderr.isTTY) {
            // the first chunk tells how much follows; the bar is drawn only on a terminal
            const total = done + Number(chunk.remainingBytes);
            bar = new ProgressBar({ label: 'snapshot', total, done: () => done, unit: 'B' }).start();
          }
          if (!file.write(chunk.blob)) await new Promise<void>((r) => file.once('drain', () => r()));
        }
        await new Promise<void>((res, rej) => file.end((e?: Error | null) => (e ? rej(e) : res())));
      } catch (e) {
        file.destroy();
        bar?.finish('failed');
        throw new ExitCodeError(EXIT_INTERRUPTED, (e as Error).message);
      }
      bar?.finish(`${humanizeBytes(done)}`);
      renameSync(part, path);
      ctx.out.out(`Snapshot saved at ${path}\n`);
    },
  ),
  command(
    'snapshot status',
    'snapshot status <filename>',
    'Gets backend snapshot status of a given file',
    {},
    async (ctx) => {
      if (ctx.args.length !== 1) throw new UsageError('snapshot status requires exactly one argument');
      const { snapshotStatus } = await import('../snapshot.js');
      const s = await snapshotStatus(ctx.args[0]!).catch(offlineError);
      const row = [s.hash.toString(16), String(s.revision), String(s.totalKey), humanizeBytes(s.totalSize)];
      display(ctx, {
        simple: () => ctx.out.out(`${row.join(', ')}\n`),
        // snapshot.Status's json tags are its Go names in camelCase, without omitempty
        json: () =>
          ctx.out.out(
            `${JSON.stringify({ hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize })}\n`,
          ),
        table: () => table(ctx.out, ['hash', 'revision', 'total keys', 'total size'], [row]),
        fields: () =>
          ctx.out.out(
            `"Hash" : ${s.hash}\n"Revision" : ${s.revision}\n"Keys" : ${s.totalKey}\n"Size" : ${s.totalSize}\n`,
          ),
      });
    },
    `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are hash, revision, total keys, total size.
`,
  ),
  command(
    'snapshot restore',
    'snapshot restore <filename> [options]',
    'Restores an etcd member snapshot to an etcd directory',
    RESTORE_FLAGS,
    async (ctx) => {
      if (ctx.args.length !== 1) throw new UsageError('snapshot restore requires exactly one argument');
      // etcdctl's restore opens the file first: its error names open(2), not stat(2)
      try {
        closeSync(openSync(ctx.args[0]!, 'r'));
      } catch (e) {
        const why =
          (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message;
        throw new ExitCodeError(1, `open ${ctx.args[0]}: ${why}`);
      }
      const { restoreSnapshot, restoreOptions } = await import('../snapshot.js');
      // every flag with etcdctl's default: --initial-cluster stays default=... whatever --name says
      const flags = new Map(Object.keys(RESTORE_FLAGS).map((n) => [n, ctx.flag(n)] as [string, string]));
      const o = (() => {
        try {
          return restoreOptions(flags);
        } catch (e) {
          return offlineError(e);
        }
      })();
      // the restore's log lines, as zap's: level, then the time, then the rest
      const log = (m: string) =>
        ctx.out.err(
          `${m.replace(/^\{"level":"(\w+)",/, `{"level":"$1","ts":"${new Date().toISOString()}",`)}\n`,
        );
      await restoreSnapshot(ctx.args[0]!, o, log).catch(offlineError);
    },
  ),
];
