/**
 * Where the client's channels connect: an address book (static list, SRV records or MemberList) that
 * feeds grpc-js through a resolver of our own scheme, so grpc-js's own `round_robin` and `pick_first`
 * policies balance over it and pick up changes without a new channel; or a `dns:///name:port` target
 * handed to grpc-js's DNS resolver as it is.
 *
 *   AddressBook.set(...) ──► BookResolver (scheme "tsetcd-book") ──► grpc-js resolving LB
 *                                                                   └► round_robin | pick_first
 */
import { resolveSrv } from 'node:dns/promises';
import { type ChannelOptions, experimental, Metadata } from '@grpc/grpc-js';

/** One member address: host (name or IP) and port; learners only serve serializable reads. */
export interface Address {
  host: string;
  port: number;
  /** True for a Raft learner: excluded from the voters view (everything but serializable reads). */
  learner?: boolean;
}

/** The two views of an address book a client uses. */
export type BookView = 'voters' | 'all';

/** The scheme our resolver answers; targets are `tsetcd-book:///<book id>/<view>`. */
export const BOOK_SCHEME = 'tsetcd-book';

type Listener = () => void;

/** A mutable list of member addresses; every channel built on it follows its changes. */
export class AddressBook {
  private static nextId = 1;
  readonly id = `b${AddressBook.nextId++}`;
  private addrs: Address[] = [];
  private readonly listeners = new Set<Listener>();

  constructor(initial: readonly Address[]) {
    this.set(initial);
    books.set(this.id, this);
  }

  /** The addresses of a view, in book order. */
  list(view: BookView): Address[] {
    return this.addrs.filter((a) => view === 'all' || !a.learner);
  }

  /** Replaces the list; channels on this book see it at once. Returns whether anything changed. */
  set(addrs: readonly Address[]): boolean {
    const key = (l: readonly Address[]) => l.map((a) => `${a.host}:${a.port}:${a.learner ? 1 : 0}`).join(',');
    if (key(addrs) === key(this.addrs)) return false;
    this.addrs = addrs.map((a) => ({ ...a }));
    for (const l of this.listeners) l();
    return true;
  }

  /** The grpc-js target of a view of this book. */
  target(view: BookView): string {
    return `${BOOK_SCHEME}:///${this.id}/${view}`;
  }

  /** @internal called by the resolver */
  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Forgets the book (its resolvers stop answering). */
  close(): void {
    this.listeners.clear();
    books.delete(this.id);
  }
}

const books = new Map<string, AddressBook>();

/** grpc-js Resolver for `tsetcd-book:///<id>/<view>`: pushes the view on every change of the book. */
class BookResolver implements experimental.Resolver {
  private unsubscribe: (() => void) | undefined;
  private readonly book: AddressBook | undefined;
  private readonly view: BookView;

  constructor(
    target: experimental.GrpcUri,
    private readonly listener: experimental.ResolverListener,
    _options: ChannelOptions,
  ) {
    const [id, view] = target.path.split('/');
    this.book = books.get(id ?? '');
    this.view = view === 'all' ? 'all' : 'voters';
  }

  updateResolution(): void {
    // Report once, then only on changes of the book: like grpc-js's ip resolver, and unlike DNS
    // there is nothing to look up again. Answering every re-resolution request at once would spin:
    // grpc-js clears its re-resolution backoff on every result, and a failing subchannel asks again.
    if (this.unsubscribe !== undefined) return;
    this.unsubscribe = this.book?.subscribe(() => process.nextTick(() => this.report())) ?? (() => {});
    // Never synchronously (the Resolver contract).
    process.nextTick(() => this.report());
  }

  private report(): void {
    if (this.book === undefined) {
      this.listener(
        {
          ok: false,
          error: { code: 14, details: 'tsetcd client: address book closed', metadata: new Metadata() },
        },
        {},
        null,
        '',
      );
      return;
    }
    const endpoints = this.book.list(this.view).map((a) => ({ addresses: [{ host: a.host, port: a.port }] }));
    this.listener({ ok: true, value: endpoints }, {}, null, '');
  }

  destroy(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  static getDefaultAuthority(target: experimental.GrpcUri): string {
    const book = books.get(target.path.split('/')[0] ?? '');
    const first = book?.list('all')[0];
    return first ? `${first.host}:${first.port}` : 'localhost';
  }
}

let registered = false;
/** Registers the book resolver with grpc-js (idempotent). */
export function registerBookResolver(): void {
  if (registered) return;
  registered = true;
  experimental.registerResolver(BOOK_SCHEME, BookResolver);
}

/**
 * Parses one endpoint as etcdctl takes it: `host:port`, `http://host:port`, `https://host:port`
 * (a trailing path is ignored). Throws on anything else. `secure` tells whether it said https.
 */
export function parseEndpoint(s: string): Address & { secure: boolean } {
  let rest = s.trim();
  let secure = false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    const sc = scheme[1]!.toLowerCase();
    if (sc !== 'http' && sc !== 'https')
      throw new Error(`tsetcd client: unsupported endpoint scheme in ${s}`);
    secure = sc === 'https';
    rest = rest.slice(scheme[0].length);
  }
  rest = rest.replace(/\/.*$/, '');
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(rest);
  if (!m) throw new Error(`tsetcd client: endpoint ${s} is not host:port`);
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) throw new Error(`tsetcd client: endpoint ${s} has a bad port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port, secure };
}

/**
 * Endpoints from DNS SRV records as etcdctl's `--discovery-srv` finds them: `_etcd-client-ssl._tcp.<domain>`
 * (https) and `_etcd-client._tcp.<domain>` (http); `serviceName` adds etcd's `-<name>` suffix.
 * Rejects when neither record exists.
 */
export async function discoverSrv(
  domain: string,
  serviceName = '',
  resolve: (name: string) => Promise<{ name: string; port: number }[]> = resolveSrv,
): Promise<string[]> {
  const suffix = serviceName === '' ? '' : `-${serviceName}`;
  const out: string[] = [];
  const errors: string[] = [];
  for (const [svc, scheme] of [
    [`_etcd-client-ssl${suffix}._tcp.${domain}`, 'https'],
    [`_etcd-client${suffix}._tcp.${domain}`, 'http'],
  ] as const) {
    try {
      for (const r of await resolve(svc)) out.push(`${scheme}://${r.name.replace(/\.$/, '')}:${r.port}`);
    } catch (e) {
      errors.push(`${svc}: ${(e as Error).message}`);
    }
  }
  if (out.length === 0) throw new Error(`tsetcd client: no SRV records for ${domain} (${errors.join('; ')})`);
  return out;
}
