/**
 * The `tsetcd` binary: a member started with etcd's flags, `tsetcd bench ...` for the load
 * generator, `tsetcd snapshot restore|status` for database snapshots (cli/snapshot.ts), `tsetcd certs`
 * (cli/certs.ts) and `tsetcd systemd` (cli/systemd.ts) for deployment files, `tsetcd lab kube|lb` for the
 * seeds' load-balancing labs (cli/lab/), `tsetcd migrate follow` to follow a live etcd (cli/migrate.ts). Production wiring of the layers lives here.
 */
import { arch, platform } from 'node:os';
import { ApiServer } from '../api/server.js';
import { startAutoCompactor } from '../server/compactor.js';
import { FAILPOINT_ADDR_ENV, faultControlFromEnv } from '../server/fault-control.js';
import {
  CLUSTER_VERSION,
  importEtcdDataDir,
  isMemberRemoved,
  Member,
  SERVER_VERSION,
} from '../server/index.js';
import { createLogger } from '../server/logger.js';
import { makePeerFetch, TlsConfigError } from '../tls/index.js';
import { buildConfig } from './config.js';
import { loadConfigFile } from './config-file.js';
import { FlagError, helpText, parseFlags } from './flags.js';
import { exitRemoved } from './removed-exit.js';
import { sdNotifierFromEnv } from './sd-notify.js';
import { setupTls, type TlsSetup } from './tls-setup.js';

export const TSETCD_VERSION = '0.1.0';

export async function main(argv: string[]): Promise<void> {
  // `tsetcd snapshot restore --help` and the like print the subcommand's usage
  if (
    ['snapshot', 'migrate', 'lab'].includes(argv[0] ?? '') &&
    argv.some((a) => a === '--help' || a === '-h')
  )
    argv = [argv[0]!, '--help'];
  if (argv[0] === 'bench') {
    const { runBench } = await import('./bench/index.js');
    process.exitCode = await runBench(argv.slice(1));
    return;
  }
  if (argv[0] === 'lab') {
    const { runLab } = await import('./lab/index.js');
    process.exitCode = await runLab(argv.slice(1));
    return;
  }
  if (argv[0] === 'dashboard') {
    const { runDashboard } = await import('./dashboard.js');
    process.exitCode = await runDashboard(argv.slice(1));
    return;
  }
  if (argv[0] === 'certs') {
    const { runCertsCommand } = await import('./certs.js');
    process.exitCode = await runCertsCommand(argv.slice(1));
    return;
  }
  if (argv[0] === 'systemd') {
    const { runSystemdCommand } = await import('./systemd.js');
    process.exitCode = runSystemdCommand(argv.slice(1));
    return;
  }
  if (argv[0] === 'migrate') {
    const { runMigrateCommand } = await import('./migrate.js');
    process.exitCode = await runMigrateCommand(argv.slice(1));
    return;
  }
  if (argv[0] === 'gateway') {
    const { runGatewayCommand } = await import('./gateway.js');
    process.exitCode = await runGatewayCommand(argv.slice(1));
    return;
  }
  if (argv[0] === 'snapshot') {
    const { runSnapshotCommand } = await import('./snapshot.js');
    process.exitCode = await runSnapshotCommand(argv.slice(1));
    return;
  }
  let cfg: ReturnType<typeof buildConfig>;
  try {
    let flags = parseFlags(argv, process.env);
    if (flags.values.get('help') === 'true') {
      process.stdout.write(helpText());
      return;
    }
    if (flags.values.get('version') === 'true') {
      process.stdout.write(
        `tsetcd Version: ${TSETCD_VERSION}\netcd API Version: ${SERVER_VERSION} (cluster ${CLUSTER_VERSION})\nNode Version: ${process.version}\nOS/Arch: ${platform()}/${arch()}\n`,
      );
      return;
    }
    // --config-file (or ETCD_CONFIG_FILE) replaces the command line and environment, as in etcd.
    const configFile = flags.values.get('config-file') ?? '';
    if (configFile !== '') {
      const fromFile = loadConfigFile(configFile);
      flags = parseFlags(fromFile.args, {});
      flags.warnings.push(
        ...fromFile.warnings,
        `loaded server configuration from ${configFile}; other configuration command line flags and environment variables will be ignored if provided`,
      );
    }
    cfg = buildConfig(flags);
    for (const w of flags.warnings) process.stderr.write(`tsetcd: warning: ${w}\n`);
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }

  const logger = createLogger(cfg.logLevel, cfg.member.name);
  logger.info(
    { version: TSETCD_VERSION, node: process.version, 'data-dir': cfg.member.dataDir },
    'starting tsetcd',
  );
  // Test-only fault control (test/jepsen): constructed only when its env var is set.
  const failpoints = faultControlFromEnv(process.env);
  if (failpoints) {
    await failpoints.listen();
    logger.warn({ address: process.env[FAILPOINT_ADDR_ENV] }, 'failpoint control server enabled (test only)');
  }
  let tlsSetup: TlsSetup;
  try {
    tlsSetup = setupTls(cfg, logger);
  } catch (err) {
    if (!(err instanceof TlsConfigError)) throw err;
    logger.error({ error: err.message }, 'TLS configuration failed');
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
    await failpoints?.close();
    return;
  }
  const baseCfg = {
    ...cfg.member,
    peerTls: tlsSetup.peer,
    peerTlsListen: cfg.tls.listenPeerUrls.some((u) => u.startsWith('https:')),
    peerFetch: makePeerFetch(tlsSetup.peer),
  };
  const memberCfg = failpoints
    ? {
        ...baseCfg,
        ...failpoints.memberOverrides,
        transportFaults: failpoints.transportFaults,
        walFs: failpoints.walFs,
        storeFaults: failpoints.storeFaults,
      }
    : baseCfg;
  let member: Member;
  try {
    // Opens without waiting for a quorum: a member restarted before the others waits for them, as
    // etcd does, serving /health (unhealthy) and serializable reads meanwhile.
    await importEtcdDataDir({ dataDir: cfg.member.dataDir, walDir: cfg.member.walDir, logger }); // etcd 3.4's dir
    member = await Member.open(memberCfg, logger);
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'failed to start the member');
    process.stderr.write(`tsetcd: cannot start: ${(err as Error).message}\n`);
    process.exitCode = 1;
    await failpoints?.close(); // else its server keeps a member-less process alive
    return;
  }
  // etcd exits when its WAL or backend cannot write (zap Fatal: "failed to save Raft hard state and
  // entries", "failed to commit tx"); so does tsetcd, and a supervisor restarts it. A member removed
  // from the cluster stops and exits 0, as etcd's (removed-exit.ts).
  member.onFailed = (err) =>
    setImmediate(() => (isMemberRemoved(err) ? exitRemoved(member, () => api) : process.exit(1)));
  const api = new ApiServer(member, {
    maxRequestBytes: cfg.member.maxRequestBytes,
    maxTxnOps: cfg.member.maxTxnOps,
    maxConcurrentStreams: cfg.maxConcurrentStreams,
  });
  const listening: string[] = [];
  try {
    for (const l of cfg.listenClient) {
      if (l.path !== undefined) await api.listenPath(l.path);
      const addr =
        l.path !== undefined
          ? { host: l.path, port: 0 }
          : await api.listen(l.host, l.port, l.secure ? tlsSetup.client : undefined);
      listening.push(l.path ?? `${addr.host}:${addr.port}`);
    }
  } catch (err) {
    process.stderr.write(`tsetcd: listen failed: ${(err as Error).message}\n`);
    await api.close();
    await member.stop();
    await failpoints?.close();
    process.exitCode = 1;
    return;
  }
  const compactor = startAutoCompactor(member, cfg.autoCompaction, logger);
  const sd = sdNotifierFromEnv(process.env);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'received signal; shutting down');
    compactor.stop();
    (sd?.notify('STOPPING=1') ?? Promise.resolve())
      .catch((err) => logger.warn({ err: String(err) }, 'failed to notify systemd of stopping'))
      .then(() => api.close())
      .then(() => member.stop())
      .then(
        () => process.exit(0),
        (err) => {
          logger.error({ err: String(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  member.ready().then(
    () => {
      logger.info({ 'member-id': member.memberId.toString(16) }, 'ready: joined the cluster');
      // etcd prints these once the member has joined (its clients are served from the start here,
      // /health unhealthy until now); etcd's e2e suite and operators' scripts wait for them.
      for (const address of listening) logger.info({ address }, 'ready to serve client requests');
      logger.info(
        { 'cluster-version': CLUSTER_VERSION.split('.').slice(0, 2).join('.') },
        'enabled capabilities for version',
      );
      // systemd Type=notify (seed 002's unit): ready only now, once joined and serving, as etcd does.
      sd?.notify('READY=1').then(
        () => logger.info({}, 'successfully notified init daemon'),
        (err) => logger.error({ err: String(err) }, 'failed to notify systemd for readiness'),
      );
    },
    (err: unknown) => {
      if (stopping) return; // a signal stopped the member before it was ready
      if (isMemberRemoved(err)) return exitRemoved(member, () => api); // removed: exit 0, as etcd
      // Only a refusal for good (peers of another cluster, a failed disk) ends the wait.
      logger.error({ err: (err as Error).message }, 'failed to start the member');
      process.stderr.write(`tsetcd: cannot start: ${(err as Error).message}\n`);
      compactor.stop();
      void api
        .close()
        .then(() => member.stop())
        .then(() => failpoints?.close())
        .finally(() => process.exit(1));
    },
  );
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
