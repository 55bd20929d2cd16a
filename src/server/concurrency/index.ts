/**
 * concurrency: etcd's Lock and Election services over the member (see README.md). Other layers
 * import only from here.
 */
import { Concurrency, type ConcurrencyOptions, type ConcurrencySource } from './concurrency.js';

export {
  Concurrency,
  type ConcurrencyOptions,
  type ConcurrencySource,
  contenderKey,
  type Headed,
  type ObserveSink,
  SESSION_TTL_SECONDS,
  WAITERS_PER_NAME_MAX,
} from './concurrency.js';
export { ConcurrencyError, canceled, tooManyWaiters } from './errors.js';
export {
  type GroupSource,
  type GroupStore,
  type HolderObserver,
  PrefixGroups,
  prefixEnd,
} from './prefix-groups.js';

const perSource = new WeakMap<ConcurrencySource, Concurrency>();

/**
 * The one `Concurrency` of `source` (created on first use with `opts`; later `opts` are ignored),
 * so the Lock and Election services of a member share one event subscription.
 */
export function concurrencyOf(
  source: ConcurrencySource,
  opts: Partial<ConcurrencyOptions> = {},
): Concurrency {
  let c = perSource.get(source);
  if (c === undefined) {
    c = new Concurrency(source, opts);
    perSource.set(source, c);
  }
  return c;
}
