/**
 * The dashboard's HTTP server: the page and its assets (built into dist by
 * scripts/build-dashboard.mjs), and a JSON API over one tsetcd/client:
 *
 *   GET  /api/state                  ClusterState (polls first if the last poll is older than the interval)
 *   GET  /api/events                 server-sent events: `state` after every poll
 *   GET  /api/keys?prefix=&after=&dir=&limit=   one page of the key tree (base64url keys)
 *   GET  /api/key?key=&before=&limit=           a key's versions, newest first
 *   GET  /api/leases                 leases with TTL and keys
 *   GET  /api/watch?prefix=          server-sent events: `events` (a batch of WatchEventView)
 *   POST /api/put {keyB64, value}, /api/delete {keyB64}, /api/lease/revoke {id}
 *        only with --enable-writes; otherwise 403 and nothing is sent to the cluster.
 *
 * Writes also need `Content-Type: application/json` and, when the browser sends one, an Origin equal
 * to the dashboard's own, so another web page cannot post to it (a cross-site form cannot set that
 * content type without a preflight, which this server never answers).
 *
 * Bounds: WATCH_STREAMS_MAX concurrent watch tails, BODY_BYTES_MAX per request body, LEASES_DETAIL_MAX
 * leases detailed per request.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Client, EtcdError, isEtcdError } from '../client/index.js';
import type { Event } from '../proto/mvccpb/kv.js';
import type {
  KeyDetail,
  KeysPage,
  KeyVersionView,
  LeasesPage,
  TreeEntryView,
  WatchEventView,
} from './api-types.js';
import { type KeyReader, type KeyVersion, keyHistory, listChildren, prefixEnd } from './keys.js';
import type { ClusterPoller } from './poller.js';

/** Concurrent watch tails one dashboard serves. */
export const WATCH_STREAMS_MAX = 16;
/** Least time between two messages of a watch tail, in ms. */
export const WATCH_FLUSH_MS = 100;
/** Events one watch-tail message carries at most (the newest; the page shows 200). */
export const WATCH_BATCH_MAX = 200;
/** Largest request body accepted, in bytes. */
export const BODY_BYTES_MAX = 1 << 20;
/** Leases whose TTL and keys one /api/leases request reads. */
export const LEASES_DETAIL_MAX = 100;
/** Keys listed per lease. */
export const LEASE_KEYS_MAX = 20;
/** Text shown when writes are refused. */
export const WRITES_DISABLED = 'dashboard: writes are disabled; start tsetcd dashboard with --enable-writes';

export interface DashboardOptions {
  client: Client;
  poller: ClusterPoller;
  /** Poll interval in ms (also how stale /api/state may be). */
  pollIntervalMs: number;
  writesEnabled: boolean;
  /** Folder with index.html, app.js, app.css. */
  assetsDir: string;
  /** Per-call deadline for reads, in ms. */
  callTimeoutMs: number;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
const ASSETS = new Set(['index.html', 'app.js', 'app.css', 'app.js.map']);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function b64(b: Buffer): string {
  return b.toString('base64');
}

function fromB64(s: string | null): Buffer {
  return Buffer.from(s ?? '', 'base64url');
}

function utf8(b: Buffer): { text: string; ok: boolean } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(b), ok: true };
  } catch {
    return { text: b.toString('base64'), ok: false };
  }
}

function versionView(kv: KeyVersion): KeyVersionView {
  const v = utf8(kv.value);
  return {
    key: kv.key.toString('utf8'),
    keyB64: b64(kv.key),
    value: v.text,
    valueB64: b64(kv.value),
    utf8: v.ok,
    createRevision: kv.createRevision.toString(),
    modRevision: kv.modRevision.toString(),
    version: kv.version.toString(),
    lease: kv.lease.toString(16),
  };
}

/** The HTTP status for a cluster's refusal: 401/403 for auth, 502 (bad gateway) for the rest. */
function etcdStatus(e: EtcdError): number {
  if (e.kind === 'permissionDenied') return 403;
  if (e.kind === 'userEmpty' || e.kind === 'invalidAuthToken' || e.kind === 'authFailed') return 401;
  return 502;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function intParam(u: URL, name: string, dflt: number): number {
  const v = u.searchParams.get(name);
  if (v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new HttpError(400, `dashboard: ${name} must be a non-negative integer`);
  return n;
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > BODY_BYTES_MAX) throw new HttpError(413, 'dashboard: request body too large');
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new HttpError(400, `dashboard: bad JSON body: ${(e as Error).message}`);
  }
}

/** The dashboard's HTTP server. */
export class DashboardServer {
  private server: Server | undefined;
  private watchStreams = 0;
  private readonly reader: KeyReader;
  private pollerViewers = 0;

  constructor(private readonly o: DashboardOptions) {
    const kv = o.client.kv;
    const deadlineMs = o.callTimeoutMs;
    this.reader = {
      keys: async (start, end, limit) =>
        (await kv.get(start, { rangeEnd: end, limit, keysOnly: true, deadlineMs })).kvs.map((k) => k.key),
      get: async (key, revision) => (await kv.get(key, { revision, deadlineMs })).kvs[0],
    };
  }

  /** Listens on host:port (port 0: any free port); resolves with the bound address. */
  listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => this.fail(res, e));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(server.address() as AddressInfo));
    });
  }

  close(): Promise<void> {
    const s = this.server;
    if (!s) return Promise.resolve();
    s.closeAllConnections();
    return new Promise((resolve) => s.close(() => resolve()));
  }

  private fail(res: ServerResponse, e: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e instanceof HttpError) json(res, e.status, { error: e.message });
    else if (e instanceof EtcdError) json(res, etcdStatus(e), { error: e.message });
    else json(res, 500, { error: `dashboard: ${(e as Error).message}` });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://dashboard');
    const p = u.pathname;
    if (req.method === 'POST') return this.handleWrite(req, res, p);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new HttpError(405, 'dashboard: method not allowed');
    switch (p) {
      case '/api/state':
        return this.state(res);
      case '/api/events':
        return this.events(req, res);
      case '/api/keys':
        return json(res, 200, await this.keys(u));
      case '/api/key':
        return json(res, 200, await this.key(u));
      case '/api/leases':
        return json(res, 200, await this.leases());
      case '/api/watch':
        return this.watch(req, res, u);
    }
    return this.asset(res, p === '/' ? 'index.html' : p.slice(1));
  }

  private async asset(res: ServerResponse, name: string): Promise<void> {
    if (!ASSETS.has(name)) throw new HttpError(404, 'dashboard: not found');
    const body = await readFile(join(this.o.assetsDir, name)).catch(() => {
      throw new HttpError(500, `dashboard: asset ${name} missing in ${this.o.assetsDir} (run npm run build)`);
    });
    const ext = name.slice(name.lastIndexOf('.'));
    res.writeHead(200, {
      'content-type': TYPES[ext] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  }

  private async state(res: ServerResponse): Promise<void> {
    const s = this.o.poller.current();
    if (Date.now() - s.at > this.o.pollIntervalMs || s.error !== '') await this.o.poller.poll();
    json(res, 200, this.o.poller.current());
  }

  /** Server-sent events: the state after every poll. Polling runs while someone watches. */
  private events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const send = (s: unknown) => res.write(`event: state\ndata: ${JSON.stringify(s)}\n\n`);
    send(this.o.poller.current());
    const off = this.o.poller.subscribe(send);
    if (this.pollerViewers++ === 0) this.o.poller.start(this.o.pollIntervalMs);
    req.on('close', () => {
      off();
      if (--this.pollerViewers === 0) this.o.poller.stop();
    });
  }

  private async keys(u: URL): Promise<KeysPage> {
    const prefix = fromB64(u.searchParams.get('prefix'));
    const afterParam = u.searchParams.get('after');
    const cursor =
      afterParam === null ? undefined : { key: fromB64(afterParam), dir: u.searchParams.get('dir') === '1' };
    const limit = intParam(u, 'limit', 100);
    const end = prefix.length === 0 ? Buffer.from([0]) : prefixEnd(prefix);
    const [page, count] = await Promise.all([
      listChildren(this.reader, prefix, cursor, limit),
      this.o.client.kv.get(prefix.length === 0 ? Buffer.from([0]) : prefix, {
        rangeEnd: end,
        countOnly: true,
        deadlineMs: this.o.callTimeoutMs,
      }),
    ]);
    const entries: TreeEntryView[] = page.entries.map((e) => ({
      key: e.key.toString('utf8'),
      keyB64: b64(e.key),
      dir: e.dir,
    }));
    return {
      prefixB64: b64(prefix),
      count: count.count.toString(),
      entries,
      more: page.more,
      revision: (count.header?.revision ?? 0n).toString(),
    };
  }

  private async key(u: URL): Promise<KeyDetail> {
    const key = fromB64(u.searchParams.get('key'));
    if (key.length === 0) throw new HttpError(400, 'dashboard: key is required');
    const before = u.searchParams.get('before');
    const revision = before === null || before === '' ? 0n : BigInt(before) - 1n;
    if (revision < 0n) throw new HttpError(400, 'dashboard: before must be a revision');
    const h = await keyHistory(this.reader, key, revision, intParam(u, 'limit', 20), (e) =>
      isEtcdError(e, 'compacted'),
    );
    return {
      keyB64: b64(key),
      versions: h.versions.map(versionView),
      end: h.end,
      revision: revision.toString(),
    };
  }

  private async leases(): Promise<LeasesPage> {
    const deadlineMs = this.o.callTimeoutMs;
    const all = (await this.o.client.lease.list({ deadlineMs })).leases;
    const shown = all.slice(0, LEASES_DETAIL_MAX);
    const leases = await Promise.all(
      shown.map(async (l) => {
        const t = await this.o.client.lease
          .timeToLive(l.ID, { keys: true, deadlineMs })
          .catch(() => undefined);
        return {
          id: l.ID.toString(16),
          idDec: l.ID.toString(),
          ttl: (t?.TTL ?? -1n).toString(),
          grantedTtl: (t?.grantedTTL ?? 0n).toString(),
          keys: (t?.keys ?? []).slice(0, LEASE_KEYS_MAX).map((k) => k.toString('utf8')),
        };
      }),
    );
    return { leases, more: all.length > shown.length, total: all.length };
  }

  /** Server-sent events: every change under a prefix from now on, as it happens. */
  private watch(req: IncomingMessage, res: ServerResponse, u: URL): void {
    if (this.watchStreams >= WATCH_STREAMS_MAX) {
      throw new HttpError(429, `dashboard: at most ${WATCH_STREAMS_MAX} watch tails at once`);
    }
    const prefix = fromB64(u.searchParams.get('prefix'));
    this.watchStreams++;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write('event: ready\ndata: {}\n\n');
    const w =
      prefix.length === 0
        ? this.o.client.watch(Buffer.from([0]), { rangeEnd: Buffer.from([0]) })
        : this.o.client.watch(prefix, { prefix: true });
    req.on('close', () => {
      this.watchStreams--;
      w.cancel();
    });
    // Events are sent at most every WATCH_FLUSH_MS, the newest WATCH_BATCH_MAX of them (the page
    // shows the last 200): a busy prefix costs the page one small message per interval, not one
    // per revision. The first event after a quiet spell goes out at once.
    let pending: Event[] = [];
    let lastFlush = 0;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      lastFlush = performance.now();
      if (pending.length === 0 || res.destroyed) return;
      const events: WatchEventView[] = pending.map((e) => {
        const kv = e.kv!;
        return {
          type: e.type === 1 ? 'DELETE' : 'PUT',
          key: kv.key.toString('utf8'),
          keyB64: b64(kv.key),
          value: utf8(kv.value).text,
          modRevision: kv.modRevision.toString(),
          version: kv.version.toString(),
        };
      });
      pending = [];
      res.write(`event: events\ndata: ${JSON.stringify(events)}\n\n`);
    };
    req.on('close', () => clearTimeout(timer));
    void (async () => {
      try {
        for await (const batch of w) {
          if (batch.events.length === 0) continue;
          pending.push(...batch.events);
          if (pending.length > WATCH_BATCH_MAX) pending = pending.slice(-WATCH_BATCH_MAX);
          const wait = WATCH_FLUSH_MS - (performance.now() - lastFlush);
          if (wait <= 0) flush();
          else timer ??= setTimeout(flush, wait);
        }
      } catch (e) {
        res.write(`event: failed\ndata: ${JSON.stringify({ error: (e as Error).message })}\n\n`);
        res.end();
      }
    })();
  }

  private async handleWrite(req: IncomingMessage, res: ServerResponse, p: string): Promise<void> {
    if (!['/api/put', '/api/delete', '/api/lease/revoke'].includes(p))
      throw new HttpError(404, 'dashboard: not found');
    if (!this.o.writesEnabled) throw new HttpError(403, WRITES_DISABLED);
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new HttpError(415, 'dashboard: writes need Content-Type: application/json');
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      throw new HttpError(403, 'dashboard: cross-origin writes are refused');
    }
    const body = await readBody(req);
    const str = (n: string) => {
      const v = body[n];
      if (typeof v !== 'string') throw new HttpError(400, `dashboard: ${n} must be a string`);
      return v;
    };
    const c = this.o.client;
    if (p === '/api/put') {
      const key = Buffer.from(str('keyB64'), 'base64');
      if (key.length === 0) throw new HttpError(400, 'dashboard: key is required');
      const r = await c.kv.put(key, str('value'));
      return json(res, 200, { revision: (r.header?.revision ?? 0n).toString() });
    }
    if (p === '/api/delete') {
      const key = Buffer.from(str('keyB64'), 'base64');
      if (key.length === 0) throw new HttpError(400, 'dashboard: key is required');
      const r = await c.kv.delete(key);
      return json(res, 200, {
        deleted: r.deleted.toString(),
        revision: (r.header?.revision ?? 0n).toString(),
      });
    }
    const id = str('id');
    if (!/^[0-9a-fA-F]{1,16}$/.test(id)) throw new HttpError(400, 'dashboard: id must be a lease id in hex');
    const r = await c.lease.revoke(BigInt(`0x${id}`));
    return json(res, 200, { revision: (r.header?.revision ?? 0n).toString() });
  }
}
