/** How tsetcdctl words a failed call, as etcdctl (clientv3 + grpc-go) does. */
import { fromGrpc } from '../../client/index.js';
import { statusName } from '../../wire/index.js';
import { UsageError } from './flags.js';

/** An error with an exit code. */
export class ExitError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * etcd's own text for a row of the wire table (clientv3 turns those into plain errors); "context
 * deadline exceeded" for a deadline; otherwise grpc-go's "rpc error: code = X desc = Y".
 */
export function errorText(e: unknown): string {
  if (e instanceof ExitError || e instanceof UsageError) return e.message;
  const err = fromGrpc(e);
  if (err.kind !== undefined) return err.message;
  if (err.code === 4) return 'context deadline exceeded';
  if (typeof (e as { code?: unknown })?.code !== 'number') return err.message;
  return `rpc error: code = ${statusName[err.code] ?? err.code} desc = ${err.message}`;
}
