/**
 * etcd 3.4's answers to failing KV and lease requests, as the differential tests expect them:
 * [gRPC code, exact message], written down from etcd (never derived from tsetcd's error table, so
 * that a wrong row there cannot make a test agree with it).
 */
import { status } from '@grpc/grpc-js';

const INVALID = status.INVALID_ARGUMENT;
const OUT_OF_RANGE = status.OUT_OF_RANGE;

/** etcd's KV, txn and lease errors as they arrive at a gRPC client. */
export const ETCD_ERRORS = {
  emptyKey: [INVALID, 'etcdserver: key is not provided'],
  keyNotFound: [INVALID, 'etcdserver: key not found'],
  valueProvided: [INVALID, 'etcdserver: value is provided'],
  leaseProvided: [INVALID, 'etcdserver: lease is provided'],
  leaseNotFound: [status.NOT_FOUND, 'etcdserver: requested lease not found'],
  tooManyOps: [INVALID, 'etcdserver: too many operations in txn request'],
  duplicateKey: [INVALID, 'etcdserver: duplicate key given in txn request'],
  tooLarge: [INVALID, 'etcdserver: request is too large'],
  compacted: [OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'],
  future: [OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'],
  noSpace: [status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'],
  ttlTooLarge: [OUT_OF_RANGE, 'etcdserver: too large lease TTL'],
} as const;
