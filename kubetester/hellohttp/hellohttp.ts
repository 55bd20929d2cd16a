/**
 * hellohttp (seed 001): the HTTP backend. `GET /hellohttp` on :8100 answers
 * `{"hostname":...,"name":"","version":"v1-hellohttp"}` (keys sorted, as Go marshals a map — the
 * seed's demo shows this order); `/healthz` on the same port.
 */
import { createServer } from 'node:http';
import {
  closeHttp,
  type FlagSpec,
  HOST_FLAG,
  HOSTNAME_FLAG,
  listen,
  maybeHealthz,
  nameParam,
  parsePort,
  podHostname,
  runService,
  sendJson,
} from '../common/service.js';

/** The version string of this service, as the seed's demo prints it. */
export const VERSION = 'v1-hellohttp';

const FLAGS: readonly FlagSpec[] = [
  HOST_FLAG,
  { name: 'port', env: 'PORT', default: '8100', help: 'HTTP port (0: any free port)' },
  HOSTNAME_FLAG,
];

/** A running hellohttp. */
export interface HelloHttp {
  readonly port: number;
  /** Stops accepting, closes idle keep-alive connections, lets in-flight requests finish. */
  close(): Promise<void>;
}

/** Starts hellohttp on host:port (0: a free port). */
export async function startHelloHttp(opts: {
  host: string;
  port: number;
  hostname: string;
}): Promise<HelloHttp> {
  let draining = false;
  const server = createServer((req, res) => {
    if (maybeHealthz(req, res, () => draining)) return;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/hellohttp' || req.method !== 'GET') {
      sendJson(res, 404, { error: `no route ${req.method} ${path}` });
      return;
    }
    sendJson(res, 200, { hostname: opts.hostname, name: nameParam(req), version: VERSION });
  });
  const port = await listen(server, opts.host, opts.port);
  return {
    port,
    async close() {
      draining = true;
      await closeHttp(server);
    },
  };
}

/** The hellohttp command: parses flags (argv, env), starts, and stops on SIGTERM. */
export function runHelloHttp(argv: readonly string[]): Promise<void> {
  return runService(
    'hellohttp',
    FLAGS,
    argv,
    (flags) =>
      startHelloHttp({
        host: flags.get('host')!,
        port: parsePort('port', flags.get('port')!),
        hostname: podHostname(flags.get('hostname')!),
      }),
    (srv, flags) => `listening on ${flags.get('host')}:${srv.port} (HTTP)`,
  );
}
