/**
 * The `tsetcd` binary: a member started with etcd's flags, `tsetcd bench ...` for the load
 * generator, `tsetcd snapshot restore|status` for database snapshots (cli/snapshot.ts), or `tsetcd migrate
 * follow` to follow a live etcd (cli/migrate.ts). Production wiring of the layers lives here.
 */
import { arch, platform } from 'node:os';
import { ApiServer } from '../api/server.js';
import { startAutoCompactor } from '../server/compactor.js';
import { FAILPOINT_ADDR_ENV, failpointsFromEnv } from '../server/failpoints.js';
import { createLogger } from '../server/logger.js';
import { CLUSTER_VERSION, Member, SERVER_VERSION } from '../server/member.js';
import { buildConfig } from './config.js';
import { FlagError, helpText, parseFlags } from './flags.js';

export const TSETCD_VERSION = '0.1.0';

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'bench') {
    const { runBench } = await import('./bench/index.js');
    process.exitCode = await runBench(argv.slice(1));
    return;
  }
  if (argv[0] === 'migrate') {
    const { runMigrateCommand } = await import('./migrate.js');
    process.exitCode = await runMigrateCommand(argv.slice(1));
    return;
  }
  if (argv[0] === 'snapshot') {
    const { runSnapshotCommand } = await import('./snapshot.js');
    process.exitCode = await runSnapshotCommand(argv.slice(1));
    return;
  }
  let cfg: ReturnType<typeof buildConfig>;
  try {
    const flags = parseFlags(argv, process.env);
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
  const failpoints = failpointsFromEnv(process.env);
  if (failpoints) {
    await failpoints.listen();
    logger.warn({ address: process.env[FAILPOINT_ADDR_ENV] }, 'failpoint control server enabled (test only)');
  }
  const memberCfg = failpoints
    ? {
        ...cfg.member,
        ...failpoints.memberOverrides,
        transportFaults: failpoints.transportFaults,
        walFs: failpoints.walFs,
      }
    : cfg.member;
  let member: Member;
  try {
    member = await Member.start(memberCfg, logger);
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'failed to start the member');
    process.stderr.write(`tsetcd: cannot start: ${(err as Error).message}\n`);
    process.exitCode = 1;
    await failpoints?.close(); // else its server keeps a member-less process alive
    return;
  }
  const api = new ApiServer(member, {
    maxRequestBytes: cfg.member.maxRequestBytes,
    maxTxnOps: cfg.member.maxTxnOps,
  });
  try {
    for (const l of cfg.listenClient) {
      const addr = await api.listen(l.host, l.port);
      logger.info({ address: `${addr.host}:${addr.port}` }, 'ready to serve client requests');
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

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'received signal; shutting down');
    compactor.stop();
    api
      .close()
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
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
