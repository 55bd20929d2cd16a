/**
 * hellogrpc (seed 001): the gRPC backend. Serves hello.Hello/SayHello on :8000 and answers
 * `{name, version: "v1-hellogrpc", hostname}`; `/healthz` over HTTP on :8001 (gRPC has no paths).
 * `--max-connection-age-ms` sends clients a GOAWAY after that long, which makes grpc-js re-resolve
 * DNS and so notice new replicas of a headless Service.
 */
import { createServer, type Server } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { type HelloReply, type HelloRequest, helloService } from '../common/hello.js';
import {
  closeHttp,
  type FlagSpec,
  HOST_FLAG,
  HOSTNAME_FLAG,
  listen,
  maybeHealthz,
  parsePort,
  podHostname,
  runService,
  UsageError,
} from '../common/service.js';

/** The version string of this service, as the seed's demo prints it. */
export const VERSION = 'v1-hellogrpc';

const FLAGS: readonly FlagSpec[] = [
  HOST_FLAG,
  { name: 'port', env: 'PORT', default: '8000', help: 'gRPC port (0: any free port)' },
  { name: 'health-port', env: 'HEALTH_PORT', default: '8001', help: 'HTTP port of /healthz (0: any)' },
  HOSTNAME_FLAG,
  {
    name: 'max-connection-age-ms',
    env: 'MAX_CONNECTION_AGE_MS',
    default: '0',
    help: 'close client connections (GOAWAY) after this many ms; 0: never',
  },
];

/** A running hellogrpc. */
export interface HelloGrpc {
  readonly port: number;
  readonly healthPort: number;
  /** Stops accepting, lets in-flight calls finish, closes both listeners. */
  close(): Promise<void>;
}

/** Options of `startHelloGrpc`; ports 0 pick free ones. */
export interface HelloGrpcOptions {
  host: string;
  port: number;
  healthPort: number;
  hostname: string;
  /** GOAWAY after this many ms per connection; 0: never. */
  maxConnectionAgeMs: number;
}

/** Starts the gRPC server and its /healthz listener. */
export async function startHelloGrpc(opts: HelloGrpcOptions): Promise<HelloGrpc> {
  const Hello = helloService();
  const serverOptions: grpc.ServerOptions = {};
  if (opts.maxConnectionAgeMs > 0) {
    serverOptions['grpc.max_connection_age_ms'] = opts.maxConnectionAgeMs;
    serverOptions['grpc.max_connection_age_grace_ms'] = 1000;
  }
  const server = new grpc.Server(serverOptions);
  let draining = false;
  server.addService(Hello.service, {
    SayHello(call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, cb: grpc.sendUnaryData<HelloReply>): void {
      cb(null, { name: call.request.name, version: VERSION, hostname: opts.hostname });
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? rej(err) : res(p),
    ),
  );
  const health: Server = createServer((req, res) => {
    if (!maybeHealthz(req, res, () => draining)) {
      res.writeHead(404);
      res.end();
    }
  });
  let healthPort: number;
  try {
    healthPort = await listen(health, opts.host, opts.healthPort);
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  return {
    port,
    healthPort,
    async close() {
      draining = true;
      await new Promise<void>((res) => server.tryShutdown(() => res()));
      await closeHttp(health);
    },
  };
}

/** The hellogrpc command: parses flags (argv, env), starts, and stops on SIGTERM. */
export function runHelloGrpc(argv: readonly string[]): Promise<void> {
  return runService(
    'hellogrpc',
    FLAGS,
    argv,
    (flags) => {
      const age = Number(flags.get('max-connection-age-ms'));
      if (!Number.isInteger(age) || age < 0) throw new UsageError('--max-connection-age-ms: want ms >= 0');
      return startHelloGrpc({
        host: flags.get('host')!,
        port: parsePort('port', flags.get('port')!),
        healthPort: parsePort('health-port', flags.get('health-port')!),
        hostname: podHostname(flags.get('hostname')!),
        maxConnectionAgeMs: age,
      });
    },
    (srv, flags) => `listening on ${flags.get('host')}:${srv.port} (gRPC), /healthz on ${srv.healthPort}`,
  );
}
