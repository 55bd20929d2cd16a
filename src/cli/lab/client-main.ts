/**
 * The lab's client (run inside the lab's client namespace by `tsetcd lab kube`), the seed's
 * `curl serve-svc/hellogrpc` in a loop: `node client-main.js URL COUNT [INTERVAL_MS]` (a pause between requests, for timelines). One new connection per
 * request, as curl makes; one JSON line per answer to stdout: `{"i","t","status","body"}` (t: ms
 * since the epoch), or `{"i","t","error"}`.
 */
import { get } from 'node:http';

/** Deadline of one request. */
const REQUEST_TIMEOUT_MS = 5000;

function once(url: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = get(url, { agent: false, timeout: REQUEST_TIMEOUT_MS }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => {
        body += c;
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
  });
}

const [url, countText, intervalText = '0'] = process.argv.slice(2);
const intervalMs = Number(intervalText);
if (!url || !countText) {
  process.stderr.write('usage: client-main URL COUNT\n');
  process.exit(2);
}
for (let i = 0; i < Number(countText); i++) {
  try {
    const r = await once(url);
    process.stdout.write(`${JSON.stringify({ i, t: Date.now(), status: r.status, body: r.body })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ i, t: Date.now(), error: (err as Error).message })}\n`);
  }
  if (intervalMs > 0) await new Promise((res) => setTimeout(res, intervalMs));
}
