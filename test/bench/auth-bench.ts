/**
 * Auth benchmark (indicative, not a test): put and range at 100 concurrent clients with auth off, then
 * with auth on as a non-root user holding a readwrite permission on a prefix; and Authenticate calls
 * per second — real etcd 3.4 and tsetcd, one single-member server each, in the same run.
 *
 *   npm run bench:auth [-- --seconds 5 --clients 100]
 */

import { helpFromHeader } from '../../src/pkg/script-help.js';
import { b, connect, type EtcdClients, startMember } from '../helpers/index.js';

helpFromHeader(import.meta.url);

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const SECONDS = arg('seconds', 5);
const CLIENTS = arg('clients', 100);
/** Clients share this many HTTP/2 connections (as the bench tool's default). */
const CONNECTIONS = 10;

/** Concurrent Authenticate calls (each a cost-10 bcrypt on the server). */
const AUTH_CLIENTS = 8;

/** Runs `op` from `clients` concurrent loops for SECONDS; returns completed calls per second. */
async function rate(
  conns: EtcdClients[],
  op: (c: EtcdClients, i: number) => Promise<unknown>,
  clients = CLIENTS,
): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let done = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      const c = conns[w % conns.length] as EtcdClients;
      let i = 0;
      while (performance.now() < end) {
        try {
          await op(c, w * 1_000_000 + i++);
          done++;
        } catch (err) {
          if (failed++ === 0) console.error(`  first failure: ${String(err)}`);
        }
      }
    }),
  );
  if (failed > 0) console.error(`  (${failed} calls failed)`);
  return done / SECONDS;
}

async function benchOne(kind: 'etcd' | 'tsetcd'): Promise<Record<string, number>> {
  const m = await startMember(kind, { extraFlags: ['--bcrypt-cost', '10'] });
  const conns = Array.from({ length: CONNECTIONS }, () => connect(m.endpoint));
  try {
    const c = conns[0] as EtcdClients;
    const value = Buffer.alloc(256, 'v');
    const out: Record<string, number> = {};
    await rate(conns, (x, i) => x.kv.put({ key: b(`bench/${i % 1000}`), value })); // warm-up
    out['put, auth off'] = await rate(conns, (x, i) => x.kv.put({ key: b(`bench/${i % 1000}`), value }));
    out['range, auth off'] = await rate(conns, (x, i) => x.kv.range({ key: b(`bench/${i % 1000}`) }));
    await c.auth.userAdd({ name: 'root', password: 'rootpw' });
    await c.auth.userGrantRole({ user: 'root', role: 'root' });
    await c.auth.userAdd({ name: 'bench', password: 'benchpw' });
    await c.auth.roleAdd({ name: 'benchers' });
    await c.auth.roleGrantPermission({
      name: 'benchers',
      perm: { permType: 2, key: b('bench/'), rangeEnd: b('bench0') },
    });
    await c.auth.userGrantRole({ user: 'bench', role: 'benchers' });
    await c.auth.authEnable({});
    const token = (await c.auth.authenticate({ name: 'bench', password: 'benchpw' })).token;
    out['put, auth on'] = await rate(conns, (x, i) =>
      x.kv.put({ key: b(`bench/${i % 1000}`), value }, { token }),
    );
    out['range, auth on'] = await rate(conns, (x, i) =>
      x.kv.range({ key: b(`bench/${i % 1000}`) }, { token }),
    );
    // Authenticate from AUTH_CLIENTS loops while 10 clients keep putting: logins per second, and the
    // puts per second they leave (bcrypt runs off the event loop, so writes should go on).
    const put = (x: EtcdClients, i: number) => x.kv.put({ key: b(`bench/${i % 1000}`), value }, { token });
    const [logins, puts] = await Promise.all([
      rate(conns, (x) => x.auth.authenticate({ name: 'bench', password: 'benchpw' }), AUTH_CLIENTS),
      rate(conns, put, 10),
    ]);
    out['authenticate'] = logins;
    out['put during logins'] = puts;
    out['put, 10 clients'] = await rate(conns, put, 10);
    return out;
  } finally {
    for (const x of conns) x.close();
    await m.cleanup();
  }
}

const results = { etcd: await benchOne('etcd'), tsetcd: await benchOne('tsetcd') };
console.log(
  `\n${CLIENTS} clients over ${CONNECTIONS} connections (Authenticate: ${AUTH_CLIENTS}, next to 10 putting), ${SECONDS} s per row; calls per second`,
);
console.log(
  `${'workload'.padEnd(18)}${'etcd 3.4'.padStart(12)}${'tsetcd'.padStart(12)}${'tsetcd/etcd'.padStart(14)}`,
);
for (const k of Object.keys(results.etcd)) {
  const e = results.etcd[k] ?? 0;
  const t = results.tsetcd[k] ?? 0;
  console.log(
    `${k.padEnd(18)}${e.toFixed(0).padStart(12)}${t.toFixed(0).padStart(12)}${(t / e).toFixed(2).padStart(14)}x`,
  );
}
for (const [kind, r] of Object.entries(results)) {
  const put = (r['put, auth on'] ?? 0) / (r['put, auth off'] ?? 1);
  const range = (r['range, auth on'] ?? 0) / (r['range, auth off'] ?? 1);
  console.log(
    `${kind}: auth on keeps ${(put * 100).toFixed(0)}% of put, ${(range * 100).toFixed(0)}% of range throughput`,
  );
}
process.exit(0);
