/**
 * etcdctl 3.4's `watch` (ctlv3/command/watch_command.go): a key, a range or a prefix from the
 * arguments or from ETCDCTL_WATCH_KEY / ETCDCTL_WATCH_RANGE_END; `-- cmd args` runs the command once
 * per event with ETCD_WATCH_REVISION, ETCD_WATCH_EVENT_TYPE, ETCD_WATCH_KEY and ETCD_WATCH_VALUE
 * set as etcdctl sets them (Go %q: the type, key and value quoted); `-i` reads `watch ...` and
 * `progress` lines from stdin and ends, as etcdctl does, at the end of input with exit code 3.
 */
import { spawn } from 'node:child_process';
import {
  type Client,
  fromGrpc,
  type WatchBatch,
  WatchCanceledError,
  WatchCompactedError,
} from '../../client/index.js';
import { Event_EventType } from '../../proto/mvccpb/kv.js';
import { type Command, type Ctx, command, ExitCodeError, jsonOf, toInt } from './command.js';
import { argify } from './commands.js';
import { errorText } from './errors.js';
import { type FlagSpecs, parseArgs, UsageError } from './flags.js';
import { goQuote } from './go-format.js';
import { fieldsHeader, fieldsKV, printJson, printKV, Raw } from './output.js';
import { stdinLines } from './terminal.js';

const WATCH_FLAGS: FlagSpecs = {
  interactive: { kind: 'bool', short: 'i', default: 'false', help: 'Interactive mode' },
  prefix: { kind: 'bool', default: 'false', help: 'Watch on a prefix if prefix is set' },
  rev: { kind: 'int', default: '0', help: 'Revision to start watching' },
  'prev-kv': {
    kind: 'bool',
    default: 'false',
    help: 'get the previous key-value pair before the event happens',
  },
};

const ERR_ARGS = 'bad number of arguments';
const ERR_CONFLICT_ENV = 'bad number of arguments (found conflicting environment key)';
const ERR_SEPARATOR = 'bad number of arguments (found separator --, but no commands)';

/** What one watch is asked for. */
interface WatchSpec {
  args: string[];
  exec: string[];
  prefix: boolean;
  rev: bigint;
  prevKv: boolean;
}

/** The environment's key and range end (ETCDCTL_WATCH_KEY, ETCDCTL_WATCH_RANGE_END). */
function envRange(): [string, string] {
  return [process.env.ETCDCTL_WATCH_KEY ?? '', process.env.ETCDCTL_WATCH_RANGE_END ?? ''];
}

/**
 * parseWatchArgs for the command line: `raw` is what follows the word "watch" on it (flags
 * included), `args` the positional arguments (everything after `--` among them).
 */
export function parseWatchLine(raw: string[], args: string[], envKey: string, envEnd: string) {
  const sep = raw.indexOf('--');
  if (sep >= 0 && sep === raw.length - 1) throw new UsageError(ERR_SEPARATOR);
  if (sep < 0 && raw.length < 1 && envKey === '') throw new UsageError(ERR_ARGS);
  const exec = sep >= 0 ? raw.slice(sep + 1) : [];
  let watchArgs = args.slice(0, args.length - exec.length);
  if (envKey !== '' && watchArgs.length > 0) throw new UsageError(ERR_CONFLICT_ENV);
  if (envKey !== '') watchArgs = [envKey, ...(envEnd !== '' ? [envEnd] : []), ...watchArgs];
  return { args: watchArgs, exec };
}

/** parseWatchArgs for an interactive line ("watch [options] key [range_end] [-- cmd ...]"). */
export function parseInteractiveLine(words: string[], envKey: string, envEnd: string): WatchSpec {
  if (words[0] !== 'watch') throw new UsageError("args[0] must be 'watch' for interactive calls");
  const rest = words.slice(1);
  const sep = rest.indexOf('--');
  if (sep >= 0 && sep === rest.length - 1) throw new UsageError(ERR_SEPARATOR);
  const p = parseArgs(rest, WATCH_FLAGS);
  const exec = sep >= 0 ? rest.slice(sep + 1) : [];
  const positional = p.args.slice(0, p.args.length - exec.length);
  if (sep < 0 && envKey === '' && positional.length < 1) throw new UsageError(ERR_ARGS);
  if (sep < 0 && positional.length > 0 && envKey !== '') throw new UsageError(ERR_CONFLICT_ENV);
  const flag = (n: string) => p.flags.get(n) ?? WATCH_FLAGS[n]!.default!;
  return {
    args: envKey !== '' ? [envKey, ...(envEnd !== '' ? [envEnd] : []), ...positional] : positional,
    exec,
    prefix: flag('prefix') === 'true',
    rev: toInt(flag('rev'), 'rev'),
    prevKv: flag('prev-kv') === 'true',
  };
}

/** getWatchChan: the watch of a spec, or etcdctl's refusal. */
function openWatch(c: Client, s: WatchSpec) {
  if (s.args.length < 1) throw new UsageError(ERR_ARGS);
  const [key, rangeEnd] = s.args;
  if (s.args.length === 2 && s.prefix)
    throw new UsageError('`range_end` and `--prefix` are mutually exclusive');
  return c.watch(key!, {
    ...(rangeEnd !== undefined ? { rangeEnd } : {}),
    prefix: s.prefix,
    startRevision: s.rev,
    prevKv: s.prevKv,
  });
}

/** display.Watch: one response in the chosen format. */
function printWatch(ctx: Ctx, b: WatchBatch): void {
  if (ctx.format === 'json') {
    printJson(ctx.out, {
      Header: new Raw(jsonOf(b.header ?? {})),
      Events: new Raw(b.events.length === 0 ? 'null' : `[${b.events.map((e) => jsonOf(e)).join(',')}]`),
      CompactRevision: new Raw('0'),
      Canceled: new Raw('false'),
      Created: new Raw('false'),
    });
    return;
  }
  if (ctx.format === 'fields') fieldsHeader(ctx.out, b.header);
  for (const e of b.events) {
    const type = e.type === Event_EventType.DELETE ? 'DELETE' : 'PUT';
    if (ctx.format === 'fields') {
      ctx.out.out(`"Type" : ${type}\n`);
      if (e.prevKv) fieldsKV(ctx.out, 'Prev', e.prevKv);
      fieldsKV(ctx.out, '', e.kv!);
    } else {
      ctx.out.out(`${type}\n`);
      if (e.prevKv) printKV(ctx.out, ctx.hex, false, e.prevKv);
      printKV(ctx.out, ctx.hex, false, e.kv!);
    }
  }
}

/** Go's %q of a []string: ["a" "b"]. */
const goQuoteList = (xs: string[]): string => `[${xs.map((x) => goQuote(x)).join(' ')}]`;

/** Runs the exec command for one event (exec.Cmd.Run); a failure ends tsetcdctl with exit 1. */
function runForEvent(ctx: Ctx, exec: string[], b: WatchBatch, i: number): Promise<void> {
  const ev = b.events[i]!;
  const env = {
    ...process.env,
    ETCD_WATCH_REVISION: String(b.header?.revision ?? 0n),
    ETCD_WATCH_EVENT_TYPE: goQuote(ev.type === Event_EventType.DELETE ? 'DELETE' : 'PUT'),
    ETCD_WATCH_KEY: goQuote(ev.kv!.key),
    ETCD_WATCH_VALUE: goQuote(ev.kv!.value),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(exec[0]!, exec.slice(1), { stdio: 'inherit', env });
    const fail = (why: string) => {
      ctx.out.err(`command ${goQuoteList(exec)} error (${why})\n`);
      reject(new ExitCodeError(1, ''));
    };
    child.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        e.code === 'ENOENT' ? `exec: ${goQuote(exec[0]!)}: executable file not found in $PATH` : e.message,
      ),
    );
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else fail(signal ? `signal: ${signalName(signal)}` : `exit status ${code}`);
    });
  });
}

/** Go's os.Signal String() for the usual signals. */
function signalName(s: NodeJS.Signals): string {
  const names: Partial<Record<NodeJS.Signals, string>> = {
    SIGKILL: 'killed',
    SIGTERM: 'terminated',
    SIGINT: 'interrupt',
    SIGSEGV: 'segmentation fault',
    SIGABRT: 'aborted',
  };
  return names[s] ?? s;
}

/** printWatchCh: prints each response and runs the exec command per event; resolves when it ends. */
async function printWatchStream(ctx: Ctx, w: ReturnType<Client['watch']>, exec: string[]): Promise<void> {
  try {
    for await (const b of w) {
      if (b.progress) ctx.out.out(`progress notify: ${b.header?.revision ?? 0n}\n`);
      printWatch(ctx, b);
      for (let i = 0; exec.length > 0 && i < b.events.length; i++) await runForEvent(ctx, exec, b, i);
    }
  } catch (e) {
    if (e instanceof WatchCompactedError || e instanceof WatchCanceledError) {
      ctx.out.err(`watch was canceled (${canceledText(e)})\n`);
      return;
    }
    throw e;
  }
}

/** The reason etcdctl prints for a canceled watch (clientv3's WatchResponse.Err()). */
function canceledText(e: Error): string {
  if (e instanceof WatchCompactedError) return 'etcdserver: mvcc: required revision has been compacted';
  return errorText(fromGrpc(e));
}

/** watchInteractiveFunc: one command per line of stdin until its end. */
async function watchInteractive(ctx: Ctx, c: Client, envKey: string, envEnd: string): Promise<never> {
  const watchers: ReturnType<Client['watch']>[] = [];
  let failed: unknown;
  const nextLine = stdinLines();
  for (;;) {
    const raw = await nextLine();
    if (raw === undefined || !raw.endsWith('\n')) {
      if (failed !== undefined) throw failed;
      throw new ExitCodeError(3, 'Error reading watch request line: EOF');
    }
    const l = raw.slice(0, -1);
    const words = argify(l);
    if (words.length < 1) {
      ctx.out.err(`Invalid command: ${l} (watch and progress supported)\n`);
      continue;
    }
    if (words[0] === 'watch') {
      if (words.length < 2 && envKey === '') {
        ctx.out.err(`Invalid command ${l} (command type or key is not provided)\n`);
        continue;
      }
      const spec = parseInteractiveLine(words, envKey, envEnd);
      let w: ReturnType<Client['watch']>;
      try {
        w = openWatch(c, spec);
      } catch (e) {
        ctx.out.err(`Invalid command ${l} (${(e as Error).message})\n`);
        continue;
      }
      watchers.push(w);
      void printWatchStream(ctx, w, spec.exec).catch((e) => {
        failed = e;
      });
    } else if (words[0] === 'progress') {
      for (const w of watchers) w.requestProgress();
    } else ctx.out.err(`Invalid command ${l} (only support watch)\n`);
  }
}

/** The watch command. */
export const WATCH_COMMAND: Command = command(
  'watch',
  'watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]',
  'Watches events stream on keys or prefixes',
  WATCH_FLAGS,
  async (ctx) => {
    const [envKey, envEnd] = envRange();
    if (envKey === '' && envEnd !== '')
      throw new UsageError(`ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${goQuote(envEnd)}`);
    if (ctx.flag('interactive') === 'true') await watchInteractive(ctx, await ctx.client(), envKey, envEnd);
    const i = ctx.argv.indexOf('watch');
    const { args, exec } = parseWatchLine(ctx.argv.slice(i + 1), ctx.args, envKey, envEnd);
    const c = await ctx.client();
    const w = openWatch(c, {
      args,
      exec,
      prefix: ctx.flag('prefix') === 'true',
      rev: toInt(ctx.flag('rev'), 'rev'),
      prevKv: ctx.flag('prev-kv') === 'true',
    });
    let interrupted = false;
    process.once('SIGINT', () => {
      interrupted = true;
      w.cancel();
    });
    await printWatchStream(ctx, w, exec);
    if (!interrupted) throw new ExitCodeError(5, 'watch is canceled by the server');
  },
);
