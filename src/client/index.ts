/**
 * tsetcd/client: a load-balancing etcd v3 client on @grpc/grpc-js. See README.md in this folder.
 */
export { Client, MEMBERSHIP_SYNC_INTERVAL_MS } from './client.js';
export { type CallOpts, isRetryable, serviceConfigFor } from './connection.js';
export { type Address, AddressBook, discoverSrv, parseEndpoint } from './endpoints.js';
export {
  EtcdError,
  type EtcdErrorClass,
  errors,
  fromGrpc,
  isEtcdError,
  kindOf,
  LeaseLostError,
  WatchCanceledError,
  WatchCompactedError,
} from './errors.js';
export {
  type Bytes,
  type CmpOp,
  cmp,
  type DeleteOptions,
  type GetOptions,
  KV,
  op,
  type PutOptions,
  prefixEnd,
  Txn,
} from './kv.js';
export { type GrantOptions, Lease, Leases } from './lease.js';
export type { ClientOptions, KeepAliveOptions, LbPolicy, RetryOptions, TlsOptions } from './options.js';
export { Auth, Cluster, Elections, type HeldLock, type Leadership, Locks, Maintenance } from './services.js';
export { type WatchBatch, Watcher, type WatchOptions } from './watch.js';
