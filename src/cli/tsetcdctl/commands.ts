/**
 * The commands of tsetcdctl: each one parses its arguments as etcdctl 3.4 does, calls tsetcd/client
 * and prints with etcdctl's printers in the chosen format.
 */
import { spawn } from 'node:child_process';
import { type Client, type CmpOp, cmp, fromGrpc, isEtcdError, Lease, op } from '../../client/index.js';
import {
  AlarmResponse,
  AlarmType,
  type Compare,
  DeleteRangeResponse,
  MemberAddResponse,
  MemberListResponse,
  MemberRemoveResponse,
  PutResponse,
  RangeResponse,
  type RequestOp,
  type ResponseHeader,
  TxnResponse,
} from '../../proto/etcdserverpb/rpc.js';
import {
  type Command,
  type Ctx,
  command,
  display,
  type Encoder,
  ExitCodeError,
  hexId,
  InvalidInput,
  jsonOf,
  type Printers,
  parseHexId,
  parseLeaseHex,
  rpcPrinters,
  spaceHex,
  toInt,
  Wrapped,
  wrapInvalid,
} from './command.js';
import { errorText as clientErrorText } from './errors.js';
import { type FlagSpecs, parseArgs, UsageError } from './flags.js';
import { goDuration, goQuote, humanizeBytes } from './go-format.js';
import { fieldsHeader, fieldsKV, flatHeader, printJson, printKV, Raw, table } from './output.js';

// ---- KV printers --------------------------------------------------------------------------------

function printGet(ctx: Ctx, r: RangeResponse, valueOnly = false): void {
  display(ctx, {
    ...rpcPrinters(ctx, r, RangeResponse),
    simple: () => {
      for (const kv of r.kvs) printKV(ctx.out, ctx.hex, valueOnly, kv);
    },
    fields: () => {
      fieldsHeader(ctx.out, r.header);
      for (const kv of r.kvs) fieldsKV(ctx.out, '', kv);
      ctx.out.out(`"More" : ${r.more}\n"Count" : ${r.count}\n`);
    },
  });
}

function printPut(ctx: Ctx, r: PutResponse): void {
  display(ctx, {
    ...rpcPrinters(ctx, r, PutResponse),
    simple: () => {
      ctx.out.out('OK\n');
      if (r.prevKv) printKV(ctx.out, ctx.hex, false, r.prevKv);
    },
    fields: () => {
      fieldsHeader(ctx.out, r.header);
      if (r.prevKv) fieldsKV(ctx.out, 'Prev', r.prevKv);
    },
  });
}

function printDel(ctx: Ctx, r: DeleteRangeResponse): void {
  display(ctx, {
    ...rpcPrinters(ctx, r, DeleteRangeResponse),
    simple: () => {
      ctx.out.out(`${r.deleted}\n`);
      for (const kv of r.prevKvs) printKV(ctx.out, ctx.hex, false, kv);
    },
    fields: () => {
      fieldsHeader(ctx.out, r.header);
      ctx.out.out(`"Deleted" : ${r.deleted}\n`);
      for (const kv of r.prevKvs) fieldsKV(ctx.out, 'Prev', kv);
    },
  });
}

function txnJson(r: TxnResponse): unknown {
  const responses = r.responses.map((x) => {
    const [name, v] = x.responseRange
      ? ['responseRange', x.responseRange]
      : x.responsePut
        ? ['responsePut', x.responsePut]
        : x.responseDeleteRange
          ? ['responseDeleteRange', x.responseDeleteRange]
          : ['responseTxn', x.responseTxn];
    // encoding/json of a gogoproto oneof: the interface field and the wrapper's Go field name.
    return {
      Response: new Raw(`{${JSON.stringify(name![0]!.toUpperCase() + name!.slice(1))}:${jsonOf(v)}}`),
    };
  });
  return { header: r.header, succeeded: r.succeeded, responses };
}

/** The responses of a txn, each with the printer of its kind (simple and fields). */
function printTxnResponses(ctx: Ctx, r: TxnResponse, sep: string): void {
  for (const x of r.responses) {
    ctx.out.out(sep);
    if (x.responseDeleteRange) printDel(ctx, x.responseDeleteRange);
    else if (x.responsePut) printPut(ctx, x.responsePut);
    else if (x.responseRange) printGet(ctx, x.responseRange);
  }
}

function printTxn(ctx: Ctx, r: TxnResponse): void {
  display(ctx, {
    protobuf: () => ctx.out.out(Buffer.from(TxnResponse.encode(r).finish())),
    json: () => printJson(ctx.out, txnJson(r)),
    simple: () => {
      ctx.out.out(r.succeeded ? 'SUCCESS\n' : 'FAILURE\n');
      printTxnResponses(ctx, r, '\n');
    },
    fields: () => {
      fieldsHeader(ctx.out, r.header);
      ctx.out.out(`"Succeeded" : ${r.succeeded}\n`);
      printTxnResponses(ctx, r, '');
    },
  });
}

// ---- get / put / del ----------------------------------------------------------------------------

const GET_FLAGS: FlagSpecs = {
  consistency: { kind: 'string', default: 'l', help: 'Linearizable(l) or Serializable(s)' },
  order: { kind: 'string', default: '', help: 'Order of results; ASCEND or DESCEND (ASCEND by default)' },
  'sort-by': { kind: 'string', default: '', help: 'Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION' },
  limit: { kind: 'int', default: '0', help: 'Maximum number of results' },
  prefix: { kind: 'bool', default: 'false', help: 'Get keys with matching prefix' },
  'from-key': {
    kind: 'bool',
    default: 'false',
    help: 'Get keys that are greater than or equal to the given key using byte compare',
  },
  rev: { kind: 'int', default: '0', help: 'Specify the kv revision' },
  'keys-only': { kind: 'bool', default: 'false', help: 'Get only the keys' },
  'print-value-only': {
    kind: 'bool',
    default: 'false',
    help: 'Only write values when using the "simple" output format',
  },
};

/**
 * A key range from `get`/`del` arguments (key [range_end]) and --prefix / --from-key, refused as
 * etcdctl refuses it.
 */
function keyRangeArgs(cmd: 'get' | 'del', flag: (n: string) => string, args: string[]) {
  if (args.length === 0 || args.length > 2)
    throw new UsageError(`${cmd} command needs one argument as key and an optional argument as range_end`);
  const prefix = flag('prefix') === 'true';
  const fromKey = flag('from-key') === 'true';
  if (prefix && fromKey)
    throw new UsageError('`--prefix` and `--from-key` cannot be set at the same time, choose one');
  if (prefix && args.length === 2)
    throw new UsageError('too many arguments, only accept one argument when `--prefix` is set.');
  return { key: args[0]!, opts: { ...(args.length === 2 ? { rangeEnd: args[1]! } : {}), prefix, fromKey } };
}

/** The options of a get from its flags (shared by `get` and txn's get ops). */
function getOptions(flag: (n: string) => string, args: string[]) {
  const range = keyRangeArgs('get', flag, args);
  const order = flag('order').toUpperCase();
  const sortBy = flag('sort-by').toUpperCase();
  const orders: Record<string, 'ascend' | 'descend' | 'none'> = {
    '': 'none',
    ASCEND: 'ascend',
    DESCEND: 'descend',
  };
  const targets: Record<string, 'key' | 'version' | 'create' | 'mod' | 'value'> = {
    '': 'key',
    KEY: 'key',
    VERSION: 'version',
    CREATE: 'create',
    MODIFY: 'mod',
    VALUE: 'value',
  };
  if (!(order in orders)) throw new UsageError(`bad ordering ${JSON.stringify(flag('order'))}`);
  if (!(sortBy in targets)) throw new UsageError(`bad sort target ${JSON.stringify(flag('sort-by'))}`);
  const consistency = flag('consistency');
  if (consistency !== 'l' && consistency !== 's')
    throw new ExitCodeError(4, `unknown consistency flag ${JSON.stringify(consistency)}`);
  // etcdctl: a sort target without an order sorts ascending.
  const sortOrder =
    orders[order]! === 'none' && sortBy !== '' && sortBy !== 'KEY' ? 'ascend' : orders[order]!;
  return {
    key: range.key,
    opts: {
      ...range.opts,
      limit: toInt(flag('limit'), 'limit'),
      revision: toInt(flag('rev'), 'rev'),
      sortOrder,
      sortTarget: targets[sortBy]!,
      serializable: consistency === 's',
      keysOnly: flag('keys-only') === 'true',
    },
  };
}

const PUT_FLAGS: FlagSpecs = {
  lease: { kind: 'string', default: '0', help: 'lease ID (in hexadecimal) to attach to the key' },
  'prev-kv': {
    kind: 'bool',
    default: 'false',
    help: 'return the previous key-value pair before modification',
  },
  'ignore-value': { kind: 'bool', default: 'false', help: 'updates the key using its current value' },
  'ignore-lease': { kind: 'bool', default: 'false', help: 'updates the key using its current lease' },
};

function putOptions(flag: (n: string) => string, args: string[], stdin?: () => string) {
  const ignoreValue = flag('ignore-value') === 'true';
  let key = args[0];
  let value = args[1];
  if (key === undefined)
    throw new UsageError('put command needs 1 argument and input from stdin or 2 arguments');
  if (ignoreValue && value !== undefined)
    throw new UsageError("put command needs only 1 argument when '--ignore-value' is set");
  if (value === undefined && !ignoreValue) {
    if (stdin === undefined)
      throw new UsageError('put command needs 1 argument and input from stdin or 2 arguments');
    value = stdin();
    // etcdctl's argOrStdin: empty standard input is no value
    if (value === '')
      throw new UsageError('put command needs 1 argument and input from stdin or 2 arguments');
  }
  key ??= '';
  return {
    key,
    value: value ?? '',
    opts: {
      lease: parseLeaseHex(flag('lease')),
      prevKv: flag('prev-kv') === 'true',
      ignoreValue,
      ignoreLease: flag('ignore-lease') === 'true',
    },
  };
}

const DEL_FLAGS: FlagSpecs = {
  prefix: { kind: 'bool', default: 'false', help: 'delete keys with matching prefix' },
  'prev-kv': { kind: 'bool', default: 'false', help: 'return deleted key-value pairs' },
  'from-key': {
    kind: 'bool',
    default: 'false',
    help: 'delete keys that are greater than or equal to the given key using byte compare',
  },
};

function delOptions(flag: (n: string) => string, args: string[]) {
  const range = keyRangeArgs('del', flag, args);
  return {
    key: range.key,
    opts: {
      ...range.opts,
      prevKv: flag('prev-kv') === 'true',
    },
  };
}

// ---- txn (etcdctl's interactive grammar, read from stdin) ---------------------------------------

/** etcdctl's argify: splits a line on spaces, keeping "double quoted" parts (with Go unquoting). */
export function argify(s: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|\S+/g;
  for (const m of s.matchAll(re)) {
    const t = m[0];
    out.push(t.startsWith('"') ? (JSON.parse(t) as string) : t);
  }
  return out;
}

/** One compare line: `<target>("<key>") <op> "<value>"`, with etcdctl's ParseCompare errors. */
export function parseCompare(line: string): Compare {
  const lp = line.indexOf('(');
  if (lp < 0) throw new InvalidInput(`malformed comparison: ${line}`);
  const target = line.slice(0, lp);
  const m = /^"((?:[^"\\]|\\.)*)"\)\s+(\S+)\s+"((?:[^"\\]|\\.)*)"/.exec(line.slice(lp + 1));
  if (!m) throw new InvalidInput(`malformed comparison: ${line}`);
  const key = JSON.parse(`"${m[1]}"`) as string;
  const o = m[2]!;
  const val = JSON.parse(`"${m[3]}"`) as string;
  if (!['=', '!=', '<', '>'].includes(o))
    throw new InvalidInput(`malformed comparison: ${line} (unknown op ${o})`);
  const num = () => {
    if (!/^[-+]?\d+$/.test(val)) throw new InvalidInput(`invalid txn compare request: ${line}`);
    return BigInt(val);
  };
  switch (target) {
    case 'ver':
    case 'version':
      return cmp.version(key, o as CmpOp, num());
    case 'c':
    case 'create':
      return cmp.createRevision(key, o as CmpOp, num());
    case 'm':
    case 'mod':
      return cmp.modRevision(key, o as CmpOp, num());
    case 'val':
    case 'value':
      return cmp.value(key, o as CmpOp, val);
    case 'lease':
      // etcdctl 3.4 panics on a lease compare; tsetcdctl takes the lease id in hex.
      return cmp.lease(key, o as CmpOp, parseLeaseHex(val));
    default:
      throw new InvalidInput(`malformed comparison: ${line} (unknown target ${target})`);
  }
}

/** One op line of a txn: get/put/del with their flags (etcdctl's parseRequestUnion). */
export function parseOp(line: string): RequestOp {
  const words = argify(line);
  if (words.length < 2) throw new InvalidInput(`invalid txn compare request: ${line}`);
  try {
    return parseOpWords(words);
  } catch {
    throw new InvalidInput(`invalid txn request: ${line}`);
  }
}

function parseOpWords(words: string[]): RequestOp {
  const [verb, ...rest] = words;
  const specs =
    verb === 'get' ? GET_FLAGS : verb === 'put' ? PUT_FLAGS : verb === 'del' ? DEL_FLAGS : undefined;
  if (specs === undefined) throw new InvalidInput('unknown command');
  const p = parseArgs(rest, specs);
  const flag = (n: string) => p.flags.get(n) ?? specs[n]?.default ?? '';
  if (verb === 'get') {
    const g = getOptions(flag, p.args);
    return op.get(g.key, g.opts);
  }
  if (verb === 'put') {
    const u = putOptions(flag, p.args);
    return op.put(u.key, u.value, u.opts);
  }
  const d = delOptions(flag, p.args);
  return op.delete(d.key, d.opts);
}

/** Raw lines of a string (each with its "\n", the last maybe without); undefined at the end. */
export function stringLines(input: string): () => string | undefined {
  let pos = 0;
  return () => {
    if (pos >= input.length) return undefined;
    const nl = input.indexOf('\n', pos);
    const end = nl < 0 ? input.length : nl + 1;
    const line = input.slice(pos, end);
    pos = end;
    return line;
  };
}

/** Lines one at a time as bufio's ReadString('\n') gives them: a line without "\n" is "EOF". */
function lineReader(source: () => string | undefined): () => string {
  return () => {
    const raw = source();
    if (raw === undefined || !raw.endsWith('\n')) throw new InvalidInput('EOF');
    return raw.slice(0, -1);
  };
}

/**
 * etcdctl's txn input: compares, success ops and failure ops, each section ended by a blank line,
 * every line parsed as it is read (so the first bad line, or EOF, stops it); `prompt` prints
 * etcdctl's interactive prompts before each section.
 */
export function readTxn(
  source: () => string | undefined,
  prompt: (s: string) => void = () => {},
): { compares: Compare[]; success: RequestOp[]; failure: RequestOp[] } {
  const next = lineReader(source);
  const section = <T>(parse: (l: string) => T): T[] => {
    const out: T[] = [];
    for (let l = next().trim(); l !== ''; l = next().trim()) out.push(parse(l));
    return out;
  };
  prompt('compares:');
  const compares = section(parseCompare);
  prompt('success requests (get, put, del):');
  const success = section(parseOp);
  prompt('failure requests (get, put, del):');
  const failure = section(parseOp);
  return { compares, success, failure };
}

/** Splits stdin into the three blank-line-terminated sections (lines unparsed); a missing terminator is "EOF". */
export function txnSections(input: string): [string[], string[], string[]] {
  const next = lineReader(stringLines(input));
  const section = (): string[] => {
    const out: string[] = [];
    for (let l = next().trim(); l !== ''; l = next().trim()) out.push(l);
    return out;
  };
  return [section(), section(), section()];
}

// ---- helpers for cluster-wide commands ----------------------------------------------------------

async function endpointsOf(ctx: Ctx): Promise<string[]> {
  if (ctx.flag('cluster') === 'true') {
    const c = await ctx.client();
    const r = await c.cluster.list();
    return r.members.flatMap((m) => m.clientURLs);
  }
  return ctx.flag('endpoints').split(',');
}

const CLUSTER_FLAG: FlagSpecs = {
  cluster: { kind: 'bool', default: 'false', help: 'use all endpoints from the cluster member list' },
};

function memberRows(r: MemberListResponse): string[][] {
  return r.members.map((m) => [
    BigInt.asUintN(64, m.ID).toString(16),
    m.name === '' ? 'unstarted' : 'started',
    m.name,
    m.peerURLs.join(','),
    m.clientURLs.join(','),
    String(m.isLearner),
  ]);
}

/** The one <memberID> argument (hex) of member remove and promote; a usage error when absent. */
function memberIdArg(ctx: Ctx): bigint {
  if (ctx.args.length !== 1) throw new UsageError('member ID is not provided');
  return parseHexId(ctx.args[0]!);
}

/** A member change's printers: "Member <id> <what> cluster <cluster id>" in the simple format. */
function showMemberChange<T extends { header?: ResponseHeader | undefined }>(
  ctx: Ctx,
  r: T,
  id: bigint,
  what: string,
  type?: Encoder<T>,
): void {
  display(ctx, {
    ...headerPrinters(ctx, r, type),
    simple: () => ctx.out.out(`Member ${spaceHex(id)} ${what} cluster ${spaceHex(r.header!.clusterId)}\n`),
  });
}

/** Printers of a response that etcdctl's fields printer shows as its header only. */
function headerPrinters<T extends { header?: ResponseHeader | undefined }>(
  ctx: Ctx,
  r: T,
  type?: Encoder<T>,
): Printers {
  return { ...rpcPrinters(ctx, r, type), fields: () => fieldsHeader(ctx.out, r.header) };
}

function alarmName(a: AlarmType): string {
  return AlarmType[a] ?? String(a);
}

// ---- the command table --------------------------------------------------------------------------

/** cobra's Long of the commands that have one (printed under DESCRIPTION by --help). */
const DESCRIPTIONS: Record<string, string> = {
  put: `
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
`,
  'endpoint status': `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.
`,
  'member list': `When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
`,
  'member promote': `Promotes a non-voting learner member to a voting one in the cluster.
`,
};

/** etcdctl's key-value, lease, member, endpoint, maintenance, lock and election commands. */
export const CORE_COMMANDS: Command[] = [
  command(
    'get',
    'get [options] <key> [range_end]',
    'Gets the key or a range of keys',
    GET_FLAGS,
    async (ctx) => {
      const g = getOptions(ctx.flag, ctx.args);
      const r = await (await ctx.client()).kv.get(g.key, g.opts);
      printGet(ctx, r, ctx.flag('print-value-only') === 'true');
    },
  ),
  command(
    'put',
    'put [options] <key> <value> (<value> can also be given from stdin)',
    'Puts the given key into the store',
    PUT_FLAGS,
    async (ctx) => {
      const u = putOptions(ctx.flag, ctx.args, ctx.stdin);
      printPut(ctx, await (await ctx.client()).kv.put(u.key, u.value, u.opts));
    },
  ),
  command(
    'del',
    'del [options] <key> [range_end]',
    'Removes the specified key or range of keys [key, range_end)',
    DEL_FLAGS,
    async (ctx) => {
      const d = delOptions(ctx.flag, ctx.args);
      printDel(ctx, await (await ctx.client()).kv.delete(d.key, d.opts));
    },
  ),
  command(
    'txn',
    'txn [options]',
    'Txn processes all the requests in one transaction',
    {
      interactive: {
        kind: 'bool',
        short: 'i',
        default: 'false',
        help: 'Input transaction in interactive mode',
      },
    },
    async (ctx) => {
      if (ctx.args.length > 0) throw new UsageError('txn command does not accept argument');
      const interactive = ctx.flag('interactive') === 'true';
      let t: ReturnType<typeof readTxn>;
      try {
        t = readTxn(ctx.readLine, (p) => {
          if (interactive) ctx.out.out(`${p}\n`);
        });
      } catch (e) {
        throw wrapInvalid(e);
      }
      const { compares, success, failure } = t;
      const c = await ctx.client();
      const txn = c.kv
        .txn()
        .if(...compares)
        .onSuccess(...success)
        .onFailure(...failure);
      printTxn(ctx, await txn.commit());
    },
  ),
  command(
    'compaction',
    'compaction [options] <revision>',
    'Compacts the event history in etcd',
    {
      physical: {
        kind: 'bool',
        default: 'false',
        help: "'true' to wait for compaction to physically remove all old revisions",
      },
    },
    async (ctx) => {
      if (ctx.args.length !== 1) throw new UsageError('compaction command needs 1 argument');
      const rev = toInt(ctx.args[0]!, 'revision');
      await (await ctx.client()).kv.compact(rev, { physical: ctx.flag('physical') === 'true' });
      ctx.out.out(`compacted revision ${rev}\n`);
    },
  ),
  command('lease grant', 'lease grant <ttl>', 'Creates leases', {}, async (ctx) => {
    if (ctx.args.length !== 1) throw new UsageError('lease grant command needs TTL argument');
    const ttl = toInt(ctx.args[0]!, 'TTL');
    const r = await (await ctx.client()).lease.grantRaw(ttl).catch((e) => {
      throw new Wrapped('failed to grant lease', e);
    });
    display(ctx, {
      simple: () => ctx.out.out(`lease ${hexId(r.ID)} granted with TTL(${r.TTL}s)\n`),
      json: () => printJson(ctx.out, { ...flatHeader(r.header), ID: r.ID, TTL: r.TTL, Error: new Raw('""') }),
      fields: () => {
        fieldsHeader(ctx.out, r.header);
        ctx.out.out(`"ID" : ${r.ID}\n"TTL" : ${r.TTL}\n`);
      },
    });
  }),
  command('lease revoke', 'lease revoke <leaseID>', 'Revokes leases', {}, async (ctx) => {
    if (ctx.args.length !== 1) throw new UsageError('lease revoke command needs 1 argument');
    const id = parseLeaseHex(ctx.args[0]!);
    const r = await (await ctx.client()).lease.revoke(id).catch((e) => {
      throw new Wrapped('failed to revoke lease', e);
    });
    display(ctx, { ...headerPrinters(ctx, r), simple: () => ctx.out.out(`lease ${hexId(id)} revoked\n`) });
  }),
  command(
    'lease timetolive',
    'lease timetolive <leaseID> [options]',
    'Get lease information',
    { keys: { kind: 'bool', default: 'false', help: 'Get keys attached to this lease' } },
    async (ctx) => {
      if (ctx.args.length !== 1) throw new UsageError('lease timetolive command needs lease ID as argument');
      const id = parseLeaseHex(ctx.args[0]!);
      const keys = ctx.flag('keys') === 'true';
      const r = await (await ctx.client()).lease.timeToLive(id, { keys });
      display(ctx, {
        simple: () => {
          if (r.grantedTTL === 0n && r.TTL === -1n) {
            ctx.out.out(`lease ${hexId(r.ID)} already expired\n`);
            return;
          }
          let txt = `lease ${hexId(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
          if (keys) txt += `, attached keys([${r.keys.map((k) => k.toString()).join(' ')}])`;
          ctx.out.out(`${txt}\n`);
        },
        json: () => {
          const keysJson =
            r.keys.length === 0
              ? 'null'
              : `[${r.keys.map((k) => JSON.stringify(k.toString('base64'))).join(',')}]`;
          // clientv3's LeaseTimeToLiveResponse embeds *pb.ResponseHeader: its fields come first, flat.
          const h = jsonOf(flatHeader(r.header));
          ctx.out.out(
            `${h.slice(0, -1)}${h.length > 2 ? ',' : ''}"id":${r.ID},"ttl":${r.TTL},"granted-ttl":${r.grantedTTL},"keys":${keysJson}}\n`,
          );
        },
        fields: () => {
          fieldsHeader(ctx.out, r.header);
          ctx.out.out(`"ID" : ${r.ID}\n"TTL" : ${r.TTL}\n"GrantedTTL" : ${r.grantedTTL}\n`);
          for (const k of r.keys) ctx.out.out(`"Key" : ${goQuote(k)}\n`);
        },
      });
    },
  ),
  command('lease list', 'lease list', 'List all active leases', {}, async (ctx) => {
    const r = await (await ctx.client()).lease.list();
    display(ctx, {
      simple: () => {
        ctx.out.out(`found ${r.leases.length} leases\n`);
        for (const l of r.leases) ctx.out.out(`${hexId(l.ID)}\n`);
      },
      json: () => {
        const leases =
          r.leases.length === 0 ? 'null' : `[${r.leases.map((l) => `{"id":${l.ID}}`).join(',')}]`;
        const h = jsonOf(flatHeader(r.header));
        ctx.out.out(`${h.slice(0, -1)}${h.length > 2 ? ',' : ''}"leases":${leases}}\n`);
      },
      fields: () => {
        fieldsHeader(ctx.out, r.header);
        for (const l of r.leases) ctx.out.out(`"ID" : ${l.ID}\n`);
      },
    });
  }),
  command(
    'lease keep-alive',
    'lease keep-alive [options] <leaseID>',
    'Keeps leases alive (renew)',
    {
      once: {
        kind: 'bool',
        default: 'false',
        help: 'Resets the keep-alive time to its original value and exits immediately',
      },
    },
    async (ctx) => {
      if (ctx.args.length !== 1) throw new UsageError('lease keep-alive command needs lease ID as argument');
      const id = parseLeaseHex(ctx.args[0]!);
      const c = await ctx.client();
      const print = (ttl: bigint, h: ResponseHeader | undefined) => {
        display(ctx, {
          simple: () => ctx.out.out(`lease ${hexId(id)} keepalived with TTL(${ttl})\n`),
          json: () => printJson(ctx.out, { ...flatHeader(h), ID: id, TTL: ttl }),
          fields: () => {
            fieldsHeader(ctx.out, h);
            ctx.out.out(`"ID" : ${id}\n"TTL" : ${ttl}\n`);
          },
        });
      };
      const lease = new Lease(c.conn, id, 1n, false);
      lease.close();
      for (;;) {
        const r = await lease.keepAliveOnce();
        if (r.TTL <= 0n) {
          if (ctx.flag('once') === 'true')
            throw new ExitCodeError(1, `lease ${hexId(id)} expired or revoked.`);
          ctx.out.out(`lease ${hexId(id)} expired or revoked.\n`);
          return;
        }
        print(r.TTL, r.header);
        if (ctx.flag('once') === 'true') return;
        await new Promise((res) => setTimeout(res, (Number(r.TTL) * 1000) / 3));
      }
    },
  ),
  command('member list', 'member list', 'Lists all members in the cluster', {}, async (ctx) => {
    const r = await (await ctx.client()).cluster.list();
    display(ctx, {
      ...rpcPrinters(ctx, r, MemberListResponse),
      simple: () => {
        for (const row of memberRows(r)) ctx.out.out(`${row.join(', ')}\n`);
      },
      table: () =>
        table(ctx.out, ['ID', 'Status', 'Name', 'Peer Addrs', 'Client Addrs', 'Is Learner'], memberRows(r)),
      fields: () => {
        fieldsHeader(ctx.out, r.header);
        for (const m of r.members) {
          ctx.out.out(`"ID" : ${m.ID}\n"Name" : ${goQuote(m.name)}\n`);
          for (const u of m.peerURLs) ctx.out.out(`"PeerURL" : ${goQuote(u)}\n`);
          for (const u of m.clientURLs) ctx.out.out(`"ClientURL" : ${goQuote(u)}\n`);
          ctx.out.out(`"IsLearner" : ${m.isLearner}\n\n`);
        }
      },
    });
  }),
  command(
    'member add',
    'member add <memberName> [options]',
    'Adds a member into the cluster',
    {
      'peer-urls': { kind: 'string', default: '', help: 'comma separated peer URLs for the new member.' },
      learner: { kind: 'bool', default: 'false', help: 'indicates if the new member is raft learner' },
    },
    async (ctx) => {
      if (ctx.args.length !== 1) throw new UsageError('member name not provided');
      if (ctx.flag('peer-urls') === '') throw new UsageError('member peer urls not provided');
      const name = ctx.args[0]!;
      const urls = ctx.flag('peer-urls').split(',');
      const c = await ctx.client();
      const r = await c.cluster.add(urls, { learner: ctx.flag('learner') === 'true' });
      const id = r.member!.ID;
      if (ctx.format !== 'simple') {
        display(ctx, headerPrinters(ctx, r, MemberAddResponse));
        return;
      }
      {
        ctx.out.out(`Member ${spaceHex(id)} added to cluster ${spaceHex(r.header!.clusterId)}\n`);
        const list = await c.cluster.list();
        const conf = list.members.flatMap((m) =>
          m.peerURLs.map((u) => `${m.ID === id ? name : m.name}=${u}`),
        );
        ctx.out.out(
          `\nETCD_NAME=${goQuote(name)}\nETCD_INITIAL_CLUSTER=${goQuote(conf.join(','))}\n` +
            `ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(urls.join(','))}\nETCD_INITIAL_CLUSTER_STATE="existing"\n`,
        );
      }
    },
  ),
  command(
    'member remove',
    'member remove <memberID>',
    'Removes a member from the cluster',
    {},
    async (ctx) => {
      const id = memberIdArg(ctx);
      const r = await (await ctx.client()).cluster.remove(id);
      showMemberChange(ctx, r, id, 'removed from', MemberRemoveResponse);
    },
  ),
  command(
    'member update',
    'member update <memberID> [options]',
    'Updates a member in the cluster',
    {
      'peer-urls': { kind: 'string', default: '', help: 'comma separated peer URLs for the updated member.' },
    },
    async (ctx) => {
      if (ctx.args.length !== 1) throw new UsageError('member ID is not provided');
      if (ctx.flag('peer-urls') === '') throw new UsageError('member peer urls not provided');
      const id = parseHexId(ctx.args[0]!);
      const r = await (await ctx.client()).cluster.update(id, ctx.flag('peer-urls').split(','));
      showMemberChange(ctx, r, id, 'updated in');
    },
  ),
  command(
    'member promote',
    'member promote <memberID>',
    'Promotes a non-voting member in the cluster',
    {},
    async (ctx) => {
      const id = memberIdArg(ctx);
      const r = await (await ctx.client()).cluster.promote(id);
      showMemberChange(ctx, r, id, 'promoted in');
    },
  ),
  command(
    'endpoint health',
    'endpoint health',
    'Checks the healthiness of endpoints specified in `--endpoints` flag',
    CLUSTER_FLAG,
    async (ctx) => {
      const eps = await endpointsOf(ctx);
      const results = await Promise.all(
        eps.map(async (ep) => {
          const c = ctx.clientFor(ep);
          const t0 = process.hrtime.bigint();
          let error = '';
          try {
            await c.kv.get('health');
          } catch (e) {
            if (!isEtcdError(fromGrpc(e), 'permissionDenied')) error = clientErrorText(e);
          } finally {
            c.close();
          }
          const took = goDuration(Number(process.hrtime.bigint() - t0));
          return { ep, health: error === '', took, error };
        }),
      );
      display(ctx, {
        simple: () => {
          for (const h of results) {
            if (h.error === '')
              ctx.out.err(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}\n`);
            else ctx.out.err(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}\n`);
          }
        },
        json: () => {
          ctx.out.out(
            `[${results
              .map(
                (h) =>
                  `{"endpoint":${JSON.stringify(h.ep)},"health":${h.health},"took":${JSON.stringify(h.took)}${h.error ? `,"error":${JSON.stringify(h.error)}` : ''}}`,
              )
              .join(',')}]\n`,
          );
        },
        table: () => {
          table(
            ctx.out,
            ['endpoint', 'health', 'took', 'error'],
            results.map((h) => [h.ep, String(h.health), h.took, h.error]),
          );
        },
        fields: () => {
          for (const h of results)
            ctx.out.out(
              `"Endpoint" : ${goQuote(h.ep)}\n"Health" : ${h.health}\n"Took" : ${h.took}\n"Error" : ${h.error}\n\n`,
            );
        },
      });
      if (results.some((h) => !h.health)) throw new ExitCodeError(1, 'unhealthy cluster');
    },
  ),
  command(
    'endpoint status',
    'endpoint status',
    'Prints out the status of endpoints specified in `--endpoints` flag',
    CLUSTER_FLAG,
    async (ctx) => {
      const eps = await endpointsOf(ctx);
      const list: { ep: string; r: Awaited<ReturnType<Client['maintenance']['status']>> }[] = [];
      let failed = false;
      for (const ep of eps) {
        const c = ctx.clientFor(ep);
        try {
          list.push({ ep, r: await c.maintenance.status() });
        } catch (e) {
          ctx.out.err(`Failed to get the status of endpoint ${ep} (${clientErrorText(e)})\n`);
          failed = true;
        } finally {
          c.close();
        }
      }
      const rows = list.map(({ ep, r }) => [
        ep,
        BigInt.asUintN(64, r.header!.memberId).toString(16),
        r.version,
        humanizeBytes(r.dbSize),
        String(r.leader === r.header!.memberId),
        String(r.isLearner),
        String(r.raftTerm),
        String(r.raftIndex),
        String(r.raftAppliedIndex),
        r.errors.join(', '),
      ]);
      const hdr = [
        'endpoint',
        'ID',
        'version',
        'db size',
        'is leader',
        'is learner',
        'raft term',
        'raft index',
        'raft applied index',
        'errors',
      ];
      display(ctx, {
        simple: () => {
          for (const row of rows) ctx.out.out(`${row.join(', ')}\n`);
        },
        table: () => {
          table(ctx.out, hdr, rows);
        },
        json: () => {
          ctx.out.out(
            `[${list.map(({ ep, r }) => `{"Endpoint":${JSON.stringify(ep)},"Status":${jsonOf(r, 'status')}}`).join(',')}]\n`,
          );
        },
        fields: () => {
          for (const { ep, r } of list) {
            fieldsHeader(ctx.out, r.header);
            ctx.out.out(
              `"Version" : ${goQuote(r.version)}\n"DBSize" : ${r.dbSize}\n"Leader" : ${r.leader}\n"IsLearner" : ${r.isLearner}\n` +
                `"RaftIndex" : ${r.raftIndex}\n"RaftTerm" : ${r.raftTerm}\n"RaftAppliedIndex" : ${r.raftAppliedIndex}\n` +
                `"Errors" : [${r.errors.join(' ')}]\n"Endpoint" : ${goQuote(ep)}\n\n`,
            );
          }
        },
      });
      if (failed) throw new ExitCodeError(1, '');
    },
  ),
  command(
    'endpoint hashkv',
    'endpoint hashkv',
    'Prints the KV history hash for each endpoint in --endpoints',
    {
      ...CLUSTER_FLAG,
      rev: { kind: 'int', default: '0', help: 'maximum revision to hash (default: all revisions)' },
    },
    async (ctx) => {
      const eps = await endpointsOf(ctx);
      const list: { ep: string; r: Awaited<ReturnType<Client['maintenance']['hashKv']>> }[] = [];
      let failed = false;
      for (const ep of eps) {
        const c = ctx.clientFor(ep);
        try {
          list.push({ ep, r: await c.maintenance.hashKv(toInt(ctx.flag('rev'), 'rev')) });
        } catch (e) {
          ctx.out.err(`Failed to get the hash of endpoint ${ep} (${clientErrorText(e)})\n`);
          failed = true;
        } finally {
          c.close();
        }
      }
      display(ctx, {
        simple: () => {
          for (const { ep, r } of list) ctx.out.out(`${ep}, ${r.hash}\n`);
        },
        table: () => {
          table(
            ctx.out,
            ['endpoint', 'hash'],
            list.map(({ ep, r }) => [ep, String(r.hash)]),
          );
        },
        json: () => {
          ctx.out.out(
            `[${list.map(({ ep, r }) => `{"Endpoint":${JSON.stringify(ep)},"HashKV":${jsonOf(r)}}`).join(',')}]\n`,
          );
        },
        fields: () => {
          for (const { ep, r } of list) {
            fieldsHeader(ctx.out, r.header);
            ctx.out.out(`"Endpoint" : ${goQuote(ep)}\n"Hash" : ${r.hash}\n\n`);
          }
        },
      });
      if (failed) throw new ExitCodeError(1, '');
    },
  ),
  command('alarm list', 'alarm list', 'Lists all alarms', {}, async (ctx) => {
    printAlarms(ctx, await (await ctx.client()).maintenance.alarm('get'));
  }),
  command('alarm disarm', 'alarm disarm', 'Disarms all alarms', {}, async (ctx) => {
    printAlarms(ctx, await (await ctx.client()).maintenance.alarm('deactivate'));
  }),
  command(
    'defrag',
    'defrag',
    'Defragments the storage of the etcd members with given endpoints',
    {
      ...CLUSTER_FLAG,
      'data-dir': {
        kind: 'string',
        default: '',
        help: 'Optional. If present, defragments a data directory not in use by etcd.',
      },
    },
    async (ctx) => {
      if (ctx.flag('data-dir') !== '')
        // etcdctl defragments a bbolt file offline; a tsetcd data dir holds lmdb, not handled yet
        throw new ExitCodeError(1, 'tsetcdctl: defrag --data-dir is not implemented yet');
      let failed = false;
      for (const ep of await endpointsOf(ctx)) {
        const c = ctx.clientFor(ep);
        try {
          await c.maintenance.defragment();
          ctx.out.out(`Finished defragmenting etcd member[${ep}]\n`);
        } catch (e) {
          ctx.out.err(`Failed to defragment etcd member[${ep}] (${clientErrorText(e)})\n`);
          failed = true;
        } finally {
          c.close();
        }
      }
      if (failed) throw new ExitCodeError(1, '');
    },
  ),
  command(
    'move-leader',
    'move-leader <transferee-member-id>',
    'Transfers leadership to another etcd cluster member.',
    {},
    async (ctx) => {
      if (ctx.args.length !== 1) throw new UsageError('move-leader command needs 1 argument');
      const target = parseHexId(ctx.args[0]!);
      let leaderEp: string | undefined;
      let leaderId = 0n;
      for (const ep of ctx.flag('endpoints').split(',')) {
        const c = ctx.clientFor(ep);
        try {
          const s = await c.maintenance.status();
          if (s.header!.memberId === s.leader) {
            leaderEp = ep;
            leaderId = s.leader;
          }
        } finally {
          c.close();
        }
      }
      if (leaderEp === undefined)
        throw new Error(`no leader endpoint given at [${ctx.flag('endpoints').split(',').join(' ')}]`);
      const c = ctx.clientFor(leaderEp);
      try {
        const r = await c.maintenance.moveLeader(target);
        display(ctx, {
          ...headerPrinters(ctx, r),
          simple: () =>
            ctx.out.out(`Leadership transferred from ${hexId(leaderId, 0)} to ${hexId(target, 0)}\n`),
        });
      } finally {
        c.close();
      }
    },
  ),
  command(
    'lock',
    'lock <lockname> [exec-command arg1 arg2 ...]',
    'Acquires a named lock',
    { ttl: { kind: 'int', default: '10', help: 'timeout for session' } },
    async (ctx) => {
      if (ctx.args.length === 0)
        throw new UsageError('lock takes a lock name argument and an optional command to execute.');
      const c = await ctx.client();
      const lease = await c.lease.grant(toInt(ctx.flag('ttl'), 'ttl'));
      const held = await c.lock.lock(ctx.args[0]!, lease.id, { deadlineMs: 365 * 24 * 3600_000 });
      if (ctx.args.length > 1) {
        const code = await new Promise<number>((res) => {
          const child = spawn(ctx.args[1]!, ctx.args.slice(2), {
            stdio: 'inherit',
            env: {
              ...process.env,
              ETCD_LOCK_KEY: held.key.toString(),
              ETCD_LOCK_REV: String(held.fencingRevision),
            },
          });
          child.once('exit', (c2) => res(c2 ?? 1));
        });
        await held.unlock().catch(() => {});
        await lease.revoke().catch(() => {});
        if (code !== 0) throw new ExitCodeError(code, '');
        return;
      }
      ctx.out.out(`${held.key.toString()}\n`);
      await new Promise<void>((res) => {
        process.once('SIGINT', () => res());
        void lease.lost.then(() => res());
      });
      await held.unlock().catch(() => {});
      await lease.revoke().catch(() => {});
    },
  ),
  command(
    'elect',
    'elect <election-name> [proposal]',
    'Observes and participates in leader election',
    { listen: { kind: 'bool', short: 'l', default: 'false', help: 'observation mode' } },
    async (ctx) => {
      const listen = ctx.flag('listen') === 'true';
      if (ctx.args.length !== (listen ? 1 : 2))
        throw new UsageError('elect takes one election name argument and one proposal argument.');
      const c = await ctx.client();
      const name = ctx.args[0]!;
      if (listen) {
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        for await (const r of c.election.observe(name, { signal: stop.signal })) {
          if (r.kv) printGet(ctx, { header: r.header, kvs: [r.kv], more: false, count: 1n });
        }
        return;
      }
      const lease = await c.lease.grant(60);
      const l = await c.election.campaign(name, ctx.args[1]!, lease.id, { deadlineMs: 365 * 24 * 3600_000 });
      printGet(ctx, await c.kv.get(l.leader.key));
      await new Promise<void>((res) => {
        process.once('SIGINT', () => res());
        void lease.lost.then(() => res());
      });
      await l.resign().catch(() => {});
      await lease.revoke().catch(() => {});
    },
  ),
  command('version', 'version', 'Prints the version of etcdctl', {}, async (ctx) => {
    ctx.out.out('etcdctl version: 3.4.23\nAPI version: 3.4\n');
  }),
].map((c) => (DESCRIPTIONS[c.path] !== undefined ? { ...c, long: DESCRIPTIONS[c.path]! } : c));

function printAlarms(ctx: Ctx, r: AlarmResponse): void {
  display(ctx, {
    simple: () => {
      for (const a of r.alarms) ctx.out.out(`memberID:${a.memberID} alarm:${alarmName(a.alarm)} \n`);
    },
    ...rpcPrinters(ctx, r, AlarmResponse),
    fields: () => {
      fieldsHeader(ctx.out, r.header);
      for (const a of r.alarms)
        ctx.out.out(`"MemberID" : ${a.memberID}\n"AlarmType" : ${alarmName(a.alarm)}\n\n`);
    },
  });
}
