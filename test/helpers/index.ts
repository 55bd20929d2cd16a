/** The test harness: start etcd or tsetcd with etcd's flags, drive them, compare their answers. */
export {
  CASE_TIMEOUT_MS,
  type CaseOptions,
  type CtlExpect,
  closeSession,
  diffCase,
  diffKinds,
  openSession,
  type RpcExpect,
  runDiff,
  Session,
  type StepRecord,
  shapeOf,
} from './diff.js';
export {
  type CtlOptions,
  type CtlResult,
  ETCDCTL_TIMEOUT_MS,
  etcdctl,
  type RestoreTarget,
  restoreArgs,
  runCommand,
  tsetcdCli,
} from './etcdctl.js';
export {
  type CallOpts,
  type ConnectOptions,
  connect,
  type EtcdClients,
  openWatch,
  type PromiseService,
  RPC_DEADLINE_MS,
  type Settled,
  settle,
  WATCH_NEXT_TIMEOUT_MS,
  type WatchStream,
} from './grpc.js';
export {
  type AfterHook,
  commandFor,
  isHealthy,
  LOG_KEEP_BYTES,
  type Member,
  type MemberKind,
  type MemberOptions,
  PORT_RETRIES,
  START_TIMEOUT_MS,
  STOP_GRACE_MS,
  startMember,
  tail,
} from './member.js';
export { type IdMap, idMap, normalize, normalizeText, normalizeValue } from './normalize.js';
export { CLK_TCK, type CommandTime, cpuMs, timeCommand } from './proc.js';
export {
  b,
  collectOutput,
  freePort,
  haveCommand,
  onProcessExit,
  repoRoot,
  type TempDir,
  tempDir,
  tempDirFor,
  WAIT_INTERVAL_MS,
  WAIT_TIMEOUT_MS,
  type WaitOptions,
  waitFor,
} from './util.js';
