/**
 * Goal: the three kubetester services answer with seed 001's paths and exact response shapes, the
 * gateway balances gRPC as its policy says, and each process stops cleanly on SIGTERM.
 * Method: services in-process on 127.0.0.1 with free ports (port 0) and fixed hostnames; the
 * gateway dials an `ipv4:` list of three hellogrpc replicas (the same policy code path as
 * `dns:///grpc-svc:8000`, minus the resolver); one spawned process per service for flags, env and
 * SIGTERM. Byte-exact JSON comparisons against the seed's demo lines.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type HelloGrpc, startHelloGrpc } from './hellogrpc/hellogrpc.js';
import { type HelloHttp, startHelloHttp } from './hellohttp/hellohttp.js';
import { type HelloServe, type HelloServeOptions, startHelloServe } from './helloserve/helloserve.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The kubetester sources (Dockerfiles, proto): this file runs from dist/kubetester/. */
const srcDir = here.includes(`${join('dist', 'kubetester')}`) ? join(here, '..', '..', 'kubetester') : here;

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => {
        body += c;
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.end();
  });
}

async function countBackends(port: number, path: string, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await httpGet(port, path);
    assert.equal(r.status, 200, r.body);
    const host = (JSON.parse(r.body) as { response: { hostname: string } }).response.hostname;
    counts.set(host, (counts.get(host) ?? 0) + 1);
  }
  return counts;
}

describe('kubetester services in-process', () => {
  const grpcs: HelloGrpc[] = [];
  const https: HelloHttp[] = [];
  const gateways: HelloServe[] = [];
  let base: Omit<HelloServeOptions, 'grpcPolicy'>;

  before(async () => {
    for (const h of [
      'hellogrpc-6dd9d78b49-j66hq',
      'hellogrpc-6dd9d78b49-z2zm9',
      'hellogrpc-6dd9d78b49-abcde',
    ])
      grpcs.push(
        await startHelloGrpc({
          host: '127.0.0.1',
          port: 0,
          healthPort: 0,
          hostname: h,
          maxConnectionAgeMs: 0,
        }),
      );
    for (const h of ['hellohttp-7859b685bb-c7cr7', 'hellohttp-7859b685bb-ggd7b'])
      https.push(await startHelloHttp({ host: '127.0.0.1', port: 0, hostname: h }));
    base = {
      host: '127.0.0.1',
      port: 0,
      hostname: 'helloserve-84ff4df84d-q2b4b',
      grpcTarget: `ipv4:${grpcs.map((g) => `127.0.0.1:${g.port}`).join(',')}`,
      httpUrl: `http://127.0.0.1:${https[0]!.port}/hellohttp`,
      httpKeepAlive: true,
      grpcDnsMinIntervalMs: 30_000,
    };
  });
  after(async () => {
    for (const s of [...gateways, ...grpcs, ...https]) await s.close();
  });

  test('responses have the seed demo shapes, byte for byte', async () => {
    const gw = await startHelloServe({
      ...base,
      grpcPolicy: 'pick_first',
      grpcTarget: `127.0.0.1:${grpcs[0]!.port}`,
    });
    gateways.push(gw);
    assert.deepEqual(await httpGet(gw.port, '/hellogrpc'), {
      status: 200,
      body: '{"name":"","version":"v1-helloserve","hostname":"helloserve-84ff4df84d-q2b4b","response":{"version":"v1-hellogrpc","hostname":"hellogrpc-6dd9d78b49-j66hq"}}',
    });
    assert.deepEqual(await httpGet(gw.port, '/hellohttp'), {
      status: 200,
      body: '{"name":"","version":"v1-helloserve","hostname":"helloserve-84ff4df84d-q2b4b","response":{"hostname":"hellohttp-7859b685bb-c7cr7","name":"","version":"v1-hellohttp"}}',
    });
    assert.deepEqual(await httpGet(https[1]!.port, '/hellohttp'), {
      status: 200,
      body: '{"hostname":"hellohttp-7859b685bb-ggd7b","name":"","version":"v1-hellohttp"}',
    });
    // A name is passed through to both backends (and the gRPC answer then carries it).
    assert.equal(
      (await httpGet(gw.port, '/hellogrpc?name=kim')).body,
      '{"name":"kim","version":"v1-helloserve","hostname":"helloserve-84ff4df84d-q2b4b","response":{"name":"kim","version":"v1-hellogrpc","hostname":"hellogrpc-6dd9d78b49-j66hq"}}',
    );
    assert.match(
      (await httpGet(gw.port, '/hellohttp?name=kim')).body,
      /"response":\{"hostname":"[^"]+","name":"kim"/,
    );
  });

  test('/healthz on every HTTP listener, 404 elsewhere', async () => {
    const gw = await startHelloServe({ ...base, grpcPolicy: 'round_robin' });
    gateways.push(gw);
    for (const port of [gw.port, https[0]!.port, grpcs[0]!.healthPort]) {
      assert.deepEqual(await httpGet(port, '/healthz'), { status: 200, body: 'ok' });
    }
    assert.equal((await httpGet(gw.port, '/nope')).status, 404);
    assert.equal((await httpGet(https[0]!.port, '/hellogrpc')).status, 404);
  });

  test('round_robin spreads /hellogrpc over all three replicas; pick_first sticks to one', async () => {
    const rr = await startHelloServe({ ...base, grpcPolicy: 'round_robin' });
    const pf = await startHelloServe({ ...base, grpcPolicy: 'pick_first' });
    gateways.push(rr, pf);
    await httpGet(rr.port, '/hellogrpc'); // the first call waits for the channel; later ones rotate
    const spread = await countBackends(rr.port, '/hellogrpc', 30);
    assert.equal(spread.size, 3, `round_robin: ${JSON.stringify([...spread])}`);
    for (const [host, n] of spread) assert.ok(n >= 8 && n <= 12, `round_robin ${host}: ${n} of 30`);
    const one = await countBackends(pf.port, '/hellogrpc', 30);
    assert.equal(one.size, 1, `pick_first: ${JSON.stringify([...one])}`);
  });

  test('a backend that is down answers 502 with the envelope and an error', async () => {
    const dead = await startHelloHttp({ host: '127.0.0.1', port: 0, hostname: 'gone' });
    await dead.close();
    const gw = await startHelloServe({
      ...base,
      grpcPolicy: 'pick_first',
      grpcTarget: `127.0.0.1:${dead.port}`,
      httpUrl: `http://127.0.0.1:${dead.port}/hellohttp`,
    });
    gateways.push(gw);
    for (const path of ['/hellohttp', '/hellogrpc']) {
      const r = await httpGet(gw.port, path);
      assert.equal(r.status, 502);
      const body = JSON.parse(r.body) as Record<string, unknown>;
      assert.equal(body.version, 'v1-helloserve');
      assert.equal(body.response, undefined);
      assert.match(String(body.error), path === '/hellohttp' ? /^hellohttp: / : /^hellogrpc: /);
    }
  });
});

/** Spawns a service's main.js; resolves with the child and the port from its "listening on" line. */
function spawnService(
  service: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ReturnType<typeof spawn>; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [join(here, service, 'main.js'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`${service} did not start: ${err}`));
    }, 10_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => {
      err += c;
      const m = /listening on [^ ]+:(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        res({ child, port: Number(m[1]), stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${service} exited ${code}: ${err}`));
    });
  });
}

function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((res) => {
    if (child.exitCode !== null) res(child.exitCode);
    else child.once('exit', (code) => res(code));
  });
}

describe('kubetester processes', () => {
  test('each service takes its port from the environment and exits 0 on SIGTERM', async () => {
    for (const [service, env] of [
      ['hellohttp', { PORT: '0', HOST: '127.0.0.1', HELLO_HOSTNAME: 'pod-a' }],
      ['hellogrpc', { PORT: '0', HEALTH_PORT: '0', HOST: '127.0.0.1', HELLO_HOSTNAME: 'pod-b' }],
      ['helloserve', { PORT: '0', HOST: '127.0.0.1', HELLO_HOSTNAME: 'pod-c' }],
    ] as const) {
      const { child, port, stderr } = await spawnService(service, [], env);
      try {
        if (service !== 'hellogrpc') assert.equal((await httpGet(port, '/healthz')).status, 200);
        child.kill('SIGTERM');
        assert.equal(await exitOf(child), 0, stderr());
        assert.match(stderr(), /received SIGTERM; shutting down/);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
  });

  test('a flag beats the environment; unknown flags and bad values exit 2', async () => {
    const { child, port } = await spawnService('hellohttp', ['--port=0', '--hostname', 'by-flag'], {
      HOST: '127.0.0.1',
      PORT: '1',
      HELLO_HOSTNAME: 'by-env',
    });
    try {
      assert.match((await httpGet(port, '/hellohttp')).body, /"hostname":"by-flag"/);
    } finally {
      child.kill('SIGTERM');
      await exitOf(child);
    }
    for (const args of [['--nope=1'], ['--grpc-policy=weighted'], ['--port=70000']]) {
      const bad = spawn(process.execPath, [join(here, 'helloserve', 'main.js'), ...args], {
        stdio: 'ignore',
      });
      assert.equal(await exitOf(bad), 2, args.join(' '));
    }
  });
});

describe('Dockerfiles', () => {
  test('each image builds its own service and exposes the port it listens on by default', () => {
    for (const [service, ports] of [
      ['hellogrpc', ['8000', '8001']],
      ['hellohttp', ['8100']],
      ['helloserve', ['8200']],
    ] as const) {
      const text = readFileSync(join(srcDir, service, 'Dockerfile'), 'utf8');
      assert.match(text, new RegExp(`COPY ${service} \\./${service}`));
      assert.match(text, new RegExp(`CMD \\["node", "dist/${service}/main\\.js"\\]`));
      assert.deepEqual(/EXPOSE (.*)/.exec(text)?.[1]?.split(' '), [...ports]);
      assert.match(text, /COPY proto \.\/proto/);
    }
  });
});
