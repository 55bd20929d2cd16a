// Goal: auth tokens fuzzed (issue 13) — requests to the KV, Lease, Watch, Cluster, Maintenance and
// Auth services carrying no token, garbage, malformed or forged tokens (a real JWT with a flipped
// signature byte, a re-encoded payload naming root, one signed by another key, a truncated one, a
// simple-token shape), an expired token (JWT with a 4 s ttl; simple token with --auth-token-ttl 4)
// and a stale one (issued before a permission change), besides valid ones. Every answer must be
// exactly etcd 3.4's (gRPC code and text, or success), no member may crash, and no request may
// succeed that etcd refuses. Method: a seeded sequence of (token, request) pairs sent in the same
// order to a real etcd 3.4 and to tsetcd, each with its own tokens for the issued kinds and the same
// bytes for crafted ones; the transcripts must be equal. FUZZ_SEED replays a sequence.
import assert from 'node:assert/strict';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { enableAuthWithUser } from '../helpers/auth.js';
import {
  b,
  connect,
  type EtcdClients,
  haveCommand,
  type Member,
  openWatch,
  settle,
  startMember,
  tempDir,
  waitFor,
} from '../helpers/index.js';
import { Rng } from './rng.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261203;
const CALLS = Number(process.env.FUZZ_AUTH_CALLS ?? 160);
const TTL_S = 4;

type Call = { deadlineMs: number; token?: string };
/** The requests, each a function of a client and call options; answers compared by code and text. */
const REQUESTS: [string, (c: EtcdClients, o: Call) => Promise<unknown>][] = [
  ['range a/1', (c, o) => c.kv.range({ key: b('a/1') }, o)],
  ['range b/1', (c, o) => c.kv.range({ key: b('b/1') }, o)],
  ['range a/..b/', (c, o) => c.kv.range({ key: b('a/'), rangeEnd: b('b0') }, o)],
  ['put a/1', (c, o) => c.kv.put({ key: b('a/1'), value: b('v') }, o)],
  ['put b/1', (c, o) => c.kv.put({ key: b('b/1'), value: b('v') }, o)],
  ['delete a/9', (c, o) => c.kv.deleteRange({ key: b('a/9') }, o)],
  [
    'txn a/1 -> put a/2',
    (c, o) =>
      c.kv.txn(
        {
          compare: [{ key: b('a/1'), target: 0, result: 2, version: -1n }],
          success: [{ requestPut: { key: b('a/2'), value: b('t') } }],
        },
        o,
      ),
  ],
  ['txn put b/2', (c, o) => c.kv.txn({ success: [{ requestPut: { key: b('b/2'), value: b('t') } }] }, o)],
  ['compact 1', (c, o) => c.kv.compact({ revision: 1n }, o)],
  ['lease grant', (c, o) => c.lease.leaseGrant({ TTL: 30n }, o)],
  ['lease leases', (c, o) => c.lease.leaseLeases({}, o)],
  ['status', (c, o) => c.maintenance.status({}, o)],
  ['alarm get', (c, o) => c.maintenance.alarm({ action: 0 }, o)],
  ['hash kv', (c, o) => c.maintenance.hashKv({}, o)],
  ['member list', (c, o) => c.cluster.memberList({}, o)],
  ['user list', (c, o) => c.auth.userList({}, o)],
  ['user get u', (c, o) => c.auth.userGet({ name: 'u' }, o)],
  ['role get r', (c, o) => c.auth.roleGet({ role: 'r' }, o)],
  ['role add x', (c, o) => c.auth.roleAdd({ name: 'x' }, o)],
  ['auth enable', (c, o) => c.auth.authEnable({}, o)],
  ['authenticate u (wrong password)', (c, o) => c.auth.authenticate({ name: 'u', password: 'no' }, o)],
  [
    'watch a/',
    async (c, o) => {
      const w = openWatch(c, o.token === undefined ? {} : { token: o.token });
      try {
        w.send({ createRequest: { key: b('a/'), rangeEnd: b('a0') } });
        const r = await w.next(o.deadlineMs).catch((e: Error) => e);
        if (r instanceof Error) return `watch: ${r.message}`;
        return `watch: created ${r.created} canceled ${r.canceled} ${JSON.stringify(r.cancelReason)}`;
      } finally {
        w.close();
      }
    },
  ],
  [
    'watch b/',
    async (c, o) => {
      const w = openWatch(c, o.token === undefined ? {} : { token: o.token });
      try {
        w.send({ createRequest: { key: b('b/'), rangeEnd: b('b0') } });
        const r = await w.next(o.deadlineMs).catch((e: Error) => e);
        if (r instanceof Error) return `watch: ${r.message}`;
        return `watch: created ${r.created} canceled ${r.canceled} ${JSON.stringify(r.cancelReason)}`;
      } finally {
        w.close();
      }
    },
  ],
];

/** A side of the comparison: a member, a client, and the tokens it issued. */
interface Side {
  m: Member;
  c: EtcdClients;
  tokens: Map<string, string>;
  /** When root's and u's tokens were issued (performance.now()). */
  issued: Map<string, number>;
}

const PASSWORD: Record<string, string> = { root: 'rootpw', u: 'upw' };
/** Tokens of the "valid" kinds are re-issued when older than this (the JWT ttl is TTL_S). */
const FRESH_MS = 500;

/**
 * A valid token of `name` on side `s`. Both sides' tokens are re-issued together when either may be
 * near its expiry or was issued before an auth change, so the two sides always hold tokens of the
 * same age relative to the auth store's revision.
 */
async function fresh(sides: Side[], s: Side, name: string): Promise<string> {
  if (sides.some((x) => performance.now() - (x.issued.get(name) ?? 0) > FRESH_MS)) {
    for (const x of sides) {
      x.tokens.set(name, (await x.c.auth.authenticate({ name, password: PASSWORD[name]! })).token);
      x.issued.set(name, performance.now());
    }
  }
  return s.tokens.get(name)!;
}

const b64url = (x: Buffer | string) => Buffer.from(x).toString('base64url');

/** Crafted tokens: the same bytes go to both sides. `sample` is a JWT issued by one side (or ''). */
function craft(rng: Rng, sample: string, otherKey: string): string {
  const kinds = [
    'garbage',
    'flipped',
    'payload-root',
    'other-key',
    'truncated',
    'simple-shape',
    'empty',
    'dots',
  ];
  switch (rng.pick(kinds)) {
    case 'garbage':
      return Buffer.from(Array.from({ length: 1 + rng.int(60) }, () => 33 + rng.int(94))).toString('latin1');
    case 'flipped': {
      if (!sample) return 'x.y.z';
      const i = sample.length - 1 - rng.int(10);
      return sample.slice(0, i) + (sample[i] === 'A' ? 'B' : 'A') + sample.slice(i + 1);
    }
    case 'payload-root': {
      const [h, , s] = sample.split('.');
      return `${h ?? 'e30'}.${b64url(JSON.stringify({ username: 'root', revision: 99, exp: 4102444800 }))}.${s ?? ''}`;
    }
    case 'other-key':
      return otherKey;
    case 'truncated':
      return sample.slice(0, Math.max(1, rng.int(sample.length || 1)));
    case 'simple-shape':
      return `${'abcdefghijklmnop'.slice(0, 16)}.${rng.int(20)}`;
    case 'empty':
      return '';
    default:
      return '..';
  }
}

function forgedJwt(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ username: 'root', revision: 5, exp: 4102444800 }));
  const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(privateKey);
  return `${head}.${body}.${b64url(sig)}`;
}

function setUp(s: Side): Promise<void> {
  return enableAuthWithUser(s.c, 'a/');
}

const outcome = async (p: Promise<unknown>) => {
  const r = await settle(p);
  if (!r.ok) return `${r.code} ${r.details}`;
  return typeof r.response === 'string' ? r.response : 'OK';
};

for (const mode of ['simple', 'jwt'] as const) {
  test(`fuzzed tokens (${mode}): every answer is etcd 3.4's, nothing etcd refuses succeeds`, {
    timeout: 240_000,
    skip: haveCommand(process.env.ETCD_BIN ?? 'etcd') ? false : 'etcd 3.4 not installed',
  }, async (t) => {
    const keys = tempDir('tsetcd-jwtfuzz-');
    t.after(() => keys.remove());
    let flags = ['--bcrypt-cost', '4'];
    if (mode === 'jwt') {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(join(keys.path, 'priv.pem'), privateKey.export({ format: 'pem', type: 'pkcs1' }));
      writeFileSync(join(keys.path, 'pub.pem'), publicKey.export({ format: 'pem', type: 'spki' }));
      flags = [
        ...flags,
        '--auth-token',
        `jwt,pub-key=${join(keys.path, 'pub.pem')},priv-key=${join(keys.path, 'priv.pem')},sign-method=RS256,ttl=${TTL_S}s`,
      ];
    } else flags = [...flags, '--auth-token', 'simple', '--auth-token-ttl', String(TTL_S)];
    const sides: Side[] = [];
    for (const kind of ['etcd', 'tsetcd'] as const) {
      const m = await startMember(kind, { name: 'af', t, extraFlags: flags });
      const c = connect(m.endpoint);
      t.after(() => c.close());
      sides.push({ m, c, tokens: new Map(), issued: new Map() });
    }
    for (const s of sides) await setUp(s);
    const rng = new Rng(SEED + (mode === 'jwt' ? 1 : 0));
    const forged = forgedJwt();
    const mismatches: string[] = [];
    const tally = new Map<string, number>();
    const run = async (
      label: string,
      tokenFor: (s: Side) => string | undefined | Promise<string>,
      req: (typeof REQUESTS)[number],
    ) => {
      const answers: string[] = [];
      for (const s of sides) {
        const token = await tokenFor(s);
        answers.push(
          await outcome(req[1](s.c, { deadlineMs: 5000, ...(token === undefined ? {} : { token }) })),
        );
      }
      // an auth change (a role added, auth enabled) makes every token issued before it stale
      if (/role add|auth enable/.test(req[0])) for (const x of sides) x.issued.clear();
      const key = `${label} / ${req[0]}`;
      tally.set(answers[0]!, (tally.get(answers[0]!) ?? 0) + 1);
      if (answers[0] !== answers[1]) mismatches.push(`${key}: etcd ${answers[0]}, tsetcd ${answers[1]}`);
    };
    // Phase 1: valid, missing and crafted tokens, interleaved.
    for (let i = 0; i < CALLS; i++) {
      const req = rng.pick(REQUESTS);
      const kind = rng.pick(['root', 'u', 'none', 'crafted', 'crafted']);
      if (kind === 'root' || kind === 'u') await run(kind, (s) => fresh(sides, s, kind), req);
      else if (kind === 'none') await run('no token', () => undefined, req);
      else {
        const tok = craft(rng, mode === 'jwt' ? await fresh(sides, sides[0]!, 'u') : '', forged);
        await run(`crafted ${JSON.stringify(tok.slice(0, 40))}`, () => tok, req);
      }
    }
    // Phase 2: stale tokens — each issued just before a permission change, used right after it.
    let change = 0;
    for (const req of REQUESTS) {
      if (/enable|role add/.test(req[0])) continue;
      change++;
      for (const s of sides) {
        s.tokens.set('stale', (await s.c.auth.authenticate({ name: 'u', password: 'upw' })).token);
        await s.c.auth.roleGrantPermission(
          { name: 'r', perm: { permType: 0, key: b(`c/${change}`) } },
          { token: await fresh(sides, s, 'root') },
        );
      }
      await run('stale', (s) => s.tokens.get('stale'), req);
    }
    // Phase 3: expired tokens. Using a simple token renews it (etcd's TTL keeper), so the wait is
    // on the clock alone (TTL + 1.5 s, polled), then one probe per side; repeated until both refuse.
    for (const s of sides)
      s.tokens.set('old', (await s.c.auth.authenticate({ name: 'u', password: 'upw' })).token);
    await waitFor(
      async () => {
        const since = performance.now();
        await waitFor(() => performance.now() - since > TTL_S * 1000 + 1500, {
          timeoutMs: TTL_S * 1000 + 5000,
          intervalMs: 100,
        });
        for (const s of sides) {
          const r = await settle(s.c.kv.range({ key: b('a/1') }, { token: s.tokens.get('old')! }));
          if (r.ok) return false;
        }
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 0, what: 'the tokens expired on both sides' },
    );
    for (const req of REQUESTS)
      if (!/enable|role add/.test(req[0])) await run('expired', (s) => s.tokens.get('old'), req);
    t.diagnostic(`seed ${SEED}; etcd's answers: ${JSON.stringify(Object.fromEntries(tally))}`);
    for (const s of sides) assert.ok(s.m.pid() !== undefined, `${s.m.kind} exited`);
    assert.deepEqual(mismatches, []);
  });
}
