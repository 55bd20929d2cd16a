/**
 * /livez and /readyz as etcd 3.5 serves them (etcdserver/health.go, Kubernetes' healthz shape):
 * checks run in order — livez: ping, serializable_read; readyz: ping, serializable_read,
 * data_corruption. `?exclude=<name>` skips a check ("[+]<name> excluded: ok"), `?allowlist=<name>`
 * runs only the named ones ("[+]<name> not included: ok"); both at once is a 400. Success answers
 * "ok", or with `?verbose` each check's line then "<livez|readyz> check passed"; any failure answers
 * 500 with every line and "<name> check failed" (reasons withheld, as etcd). `/livez/<check>` runs
 * one check: "ok" or 500 "internal server error: <reason>".
 */
import { AlarmType, RangeRequest } from '../proto/etcdserverpb/rpc.js';
import type { Member } from '../server/index.js';
import type { HttpResponse } from './http-handler.js';

interface Check {
  name: string;
  run(): Promise<string | undefined>;
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' };
/** etcd gives the serializable read one second. */
const SERIALIZABLE_READ_TIMEOUT_MS = 1000;

function checks(member: Member): { livez: Check[]; readyz: Check[] } {
  const ping: Check = { name: 'ping', run: async () => undefined };
  const serializableRead: Check = {
    name: 'serializable_read',
    run: async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          member.range(
            RangeRequest.fromPartial({
              key: Buffer.from([0]),
              rangeEnd: Buffer.from([0]),
              keysOnly: true,
              limit: 1n,
              serializable: true,
            }),
          ),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error('context deadline exceeded')),
              SERIALIZABLE_READ_TIMEOUT_MS,
            );
          }),
        ]);
        return undefined;
      } catch (err) {
        return `RANGE ERROR:${(err as Error).message}`;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  const dataCorruption: Check = {
    name: 'data_corruption',
    run: async () =>
      member.alarms.list().some((a) => a.alarm === AlarmType.CORRUPT) ? 'Alarm active:CORRUPT' : undefined,
  };
  return { livez: [ping, serializableRead], readyz: [ping, serializableRead, dataCorruption] };
}

/** Go's http.Error: text/plain, nosniff, the text plus a newline. */
function httpError(status: number, text: string): HttpResponse {
  return { status, headers: TEXT, body: `${text}\n` };
}

/** Answers /livez, /readyz and their per-check paths; undefined for any other path. */
export async function healthz(member: Member, url: string): Promise<HttpResponse | undefined> {
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const rawQuery = q >= 0 ? url.slice(q + 1) : '';
  const m = /^\/(livez|readyz)(?:\/([^/]+))?$/.exec(path);
  if (!m) return undefined;
  const kind = m[1] as 'livez' | 'readyz';
  const list = checks(member)[kind];
  if (m[2] !== undefined) {
    const c = list.find((x) => x.name === m[2]);
    if (!c) return undefined;
    const why = await c.run();
    return why === undefined
      ? { status: 200, headers: TEXT, body: 'ok' }
      : httpError(500, `internal server error: ${why}`);
  }
  const params = new URLSearchParams(rawQuery);
  const excluded = new Set(params.getAll('exclude').filter((x) => x !== ''));
  const included = new Set(params.getAll('allowlist').filter((x) => x !== ''));
  if (excluded.size > 0 && included.size > 0) {
    return httpError(
      400,
      `do not expect both allowlist and exclude to be specified in the query ${rawQuery}`,
    );
  }
  const isAllowList = included.size > 0;
  let out = '';
  let failed = false;
  for (const c of list) {
    if (isAllowList) {
      if (!included.has(c.name)) {
        out += `[+]${c.name} not included: ok\n`;
        continue;
      }
      included.delete(c.name);
    } else if (excluded.has(c.name)) {
      excluded.delete(c.name);
      out += `[+]${c.name} excluded: ok\n`;
      continue;
    }
    if ((await c.run()) !== undefined) {
      out += `[-]${c.name} failed: reason withheld\n`;
      failed = true;
    } else out += `[+]${c.name} ok\n`;
  }
  const quoted = (s: Set<string>) => [...s].map((x) => JSON.stringify(x)).join(',');
  if (excluded.size > 0)
    out += `warn: some health checks cannot be excluded: no matches for ${quoted(excluded)}\n`;
  if (included.size > 0)
    out += `warn: some health checks cannot be included: no matches for ${quoted(included)}\n`;
  if (failed) return httpError(500, `${out}${kind} check failed`);
  if (!params.has('verbose')) return { status: 200, headers: TEXT, body: 'ok' };
  return { status: 200, headers: TEXT, body: `${out}${kind} check passed\n` };
}
