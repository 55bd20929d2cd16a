/**
 * tsetcdctl: etcdctl 3.4's commands and flags on tsetcd/client, with etcdctl's output byte for byte
 * (ids and timings aside). Errors print "Error: <text>" on stderr with etcdctl's exit codes:
 * 1 (a call failed), 2 (authentication at dial failed), 3 (bad input), 4 (unsupported output
 * format), 5 (a snapshot save or watch interrupted), 128 (bad arguments). `--help`, `help <command>`
 * and a group without a known subcommand print etcdctl's help (help.ts).
 */
import { readFileSync } from 'node:fs';
import { Client, type ClientOptions, fromGrpc, isEtcdError } from '../../client/index.js';
import { parseDurationMs } from '../../pkg/index.js';
import { type Ctx, ExitCodeError, InvalidInput, Wrapped } from './command.js';
import { ExitError, errorText } from './errors.js';
import { flagValue, GLOBAL_FLAGS, type Parsed, parseArgs, UsageError } from './flags.js';
import { commandHelp, groupHelp, rootHelp } from './help.js';
import { type Format, type Out, UnsupportedFormat } from './output.js';
import { COMMANDS, findCommand, findGroup } from './registry.js';
import { askPassword, readLine } from './terminal.js';

/** The name help and errors give the program. */
const BIN = 'tsetcdctl';
/** The root command's Short (etcdctl's cliDescription). */
const ROOT_SHORT = 'A simple command line client for etcd3.';

/** etcdctl's exit codes. */
export const EXIT = {
  error: 1,
  badConnection: 2,
  invalidInput: 3,
  badFeature: 4,
  interrupted: 5,
  io: 6,
  badArgs: 128,
};

function stdio(): Out {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  };
}

/** Builds the client options from the global flags and ETCDCTL_* variables. */
export function clientOptions(p: Parsed): ClientOptions {
  const v = (n: string) => flagValue(p, GLOBAL_FLAGS, n);
  const tlsFiles = { ca: v('cacert'), cert: v('cert'), key: v('key') };
  const skip = v('insecure-skip-tls-verify') === 'true';
  // etcdctl: --insecure-transport=false asks for TLS even without certificate files
  const anyTls =
    tlsFiles.ca !== '' ||
    tlsFiles.cert !== '' ||
    tlsFiles.key !== '' ||
    skip ||
    v('insecure-transport') === 'false';
  let auth: ClientOptions['auth'];
  const user = v('user');
  if (user !== '') {
    const i = user.indexOf(':');
    if (i >= 0) auth = { user: user.slice(0, i), password: user.slice(i + 1) };
    else if (v('password') !== '') auth = { user, password: v('password') };
    else auth = { user, password: askPassword((s) => process.stdout.write(s), 'Password: ') };
  }
  const policy = v('lb-policy');
  if (policy !== 'round_robin' && policy !== 'pick_first') {
    throw new UsageError(`--lb-policy must be round_robin or pick_first, not ${policy}`);
  }
  const srv = v('discovery-srv');
  return {
    ...(srv !== ''
      ? { discoverySrv: srv, discoverySrvName: v('discovery-srv-name') }
      : { endpoints: v('endpoints').split(',') }),
    lbPolicy: policy,
    dialTimeoutMs: parseDurationMs(v('dial-timeout')),
    callTimeoutMs: parseDurationMs(v('command-timeout')),
    keepAlive: {
      timeMs: parseDurationMs(v('keepalive-time')),
      timeoutMs: parseDurationMs(v('keepalive-timeout')),
    },
    ...(anyTls
      ? {
          tls: {
            ...(tlsFiles.ca ? { ca: readFileSync(tlsFiles.ca) } : {}),
            ...(tlsFiles.cert ? { cert: readFileSync(tlsFiles.cert) } : {}),
            ...(tlsFiles.key ? { key: readFileSync(tlsFiles.key) } : {}),
            insecureSkipVerify: skip,
          },
        }
      : {}),
    ...(auth ? { auth } : {}),
  };
}

/** Runs one command line; resolves with the exit code. */
export async function run(argv: string[], out: Out = stdio()): Promise<number> {
  const cmd = findCommand(argv);
  const specs = {
    ...GLOBAL_FLAGS,
    ...(cmd?.flags ?? {}),
    help: { kind: 'bool' as const, short: 'h', help: 'help' },
  };
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv, specs);
  } catch (e) {
    out.err(`Error: ${(e as Error).message}\n`);
    return EXIT.badArgs;
  }
  const words = cmd?.path.split(' ') ?? [];
  const args = parsed.args.slice(words.length);
  const first = parsed.args[0];
  const group = findGroup(argv);
  if (first === 'help') {
    // cobra's help command: the help of the command named by the rest of the line
    const rest = argv.slice(argv.indexOf('help') + 1);
    const c = findCommand(rest);
    const g = findGroup(rest);
    out.out(c ? commandHelp(BIN, c) : g ? groupHelp(BIN, g, COMMANDS) : rootHelp(BIN, ROOT_SHORT, COMMANDS));
    return 0;
  }
  if (cmd === undefined && first !== undefined && group === undefined) {
    out.err(`Error: unknown command "${first}" for "${BIN}"\nRun '${BIN} --help' for usage.\n`);
    return EXIT.error;
  }
  if (cmd === undefined || parsed.flags.get('help') === 'true') {
    // a group without a known subcommand prints its help, as cobra does for a non-runnable command
    out.out(
      cmd
        ? commandHelp(BIN, cmd)
        : group
          ? groupHelp(BIN, group, COMMANDS)
          : rootHelp(BIN, ROOT_SHORT, COMMANDS),
    );
    return 0;
  }
  const format = flagValue(parsed, GLOBAL_FLAGS, 'write-out') as Format;
  if (!['simple', 'json', 'fields', 'protobuf', 'table'].includes(format)) {
    out.err('Error: unsupported output format\n');
    return EXIT.badFeature;
  }
  let client: Client | undefined;
  // built once: a --user without a password prompts for it
  let opts: ClientOptions | undefined;
  const options = (): ClientOptions => {
    opts ??= clientOptions(parsed);
    return opts;
  };
  const ctx: Ctx = {
    out,
    format,
    hex: flagValue(parsed, GLOBAL_FLAGS, 'hex') === 'true',
    args,
    argv,
    flag: (n) => flagValue(parsed, specs, n),
    has: (n) => parsed.flags.has(n),
    client: async () => {
      if (client === undefined) {
        const o = options();
        client = o.discoverySrv ? await Client.connect(o) : new Client(o);
        if (o.auth) await authenticateAtDial(client, o.auth);
      }
      return client;
    },
    newClient: () => new Client(options()),
    clientFor: (endpoint) => {
      const c = new Client({ ...options(), endpoints: [endpoint], discoverySrv: undefined });
      return c;
    },
    stdin: () => readFileSync(0, 'utf8'),
    readLine,
    isTty: process.stdout.isTTY === true,
  };
  try {
    await cmd.run(ctx);
    return 0;
  } catch (e) {
    if (e instanceof UnsupportedFormat) {
      out.err(`Error: ${e.message}\n`);
      return EXIT.badFeature;
    }
    if (e instanceof UsageError) {
      out.err(`Error: ${e.message}\n`);
      return EXIT.badArgs;
    }
    if (e instanceof Wrapped) {
      out.err(`Error: ${e.message} (${errorText(e.inner)})\n`);
      return EXIT.error;
    }
    if (e instanceof InvalidInput) {
      out.err(`Error: ${e.message}\n`);
      return EXIT.invalidInput;
    }
    if (e instanceof ExitError || e instanceof ExitCodeError) {
      if (e.message !== '') out.err(`Error: ${e.message}\n`);
      return e.code;
    }
    out.err(`Error: ${errorText(e)}\n`);
    return EXIT.error;
  } finally {
    (client as Client | undefined)?.close();
  }
}

/**
 * clientv3.New with a user: it authenticates while dialing and fails with exit code 2
 * (ExitBadConnection) unless the server answers that auth is not enabled.
 */
async function authenticateAtDial(c: Client, auth: { user: string; password: string }): Promise<void> {
  try {
    await c.auth.authenticate(auth.user, auth.password);
  } catch (e) {
    if (isEtcdError(fromGrpc(e), 'authNotEnabled')) {
      // clientv3 goes on without a token
      c.conn.authenticate = undefined;
      return;
    }
    throw new ExitCodeError(EXIT.badConnection, errorText(e));
  }
}

/** Entry point of bin/tsetcdctl.js. */
export async function main(argv: string[]): Promise<void> {
  const code = await run(argv);
  process.exitCode = code;
}
