/**
 * The Jepsen suite with auth on (issue 13): a 3-member cluster with `--auth-token simple` or `jwt`,
 * root and a user `limited` whose role has READWRITE over the prefix `/auth/in/` and over the single
 * key `/auth/late` (revoked halfway through the run). Root clients write everywhere; limited clients
 * write, read, delete, run txns and open watches inside their range and outside it (keys under
 * `/auth/out/`, ranges spanning both, txns whose compare is inside and whose put is outside, the
 * revoked key after the revoke). Meanwhile the nemesis kills (also every member: simple tokens die
 * with the process), pauses and isolates members, so requests cross leader changes and restarts;
 * clients re-authenticate when told their token is invalid or stale. `checkAuth` then proves:
 * - no request outside the permission (as of its invocation) ever succeeded, and no watch outside
 *   it was left open;
 * - every denial is etcd's exact answer (PERMISSION_DENIED "etcdserver: permission denied");
 * - a request inside the permission was never denied;
 * - the store's history (a root watch from revision 1) holds no write by `limited` outside its
 *   range, whatever its client saw (timeouts included).
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceError } from '@grpc/grpc-js';
import * as rpc from '../../src/proto/etcdserverpb/rpc.js';
import { connect, type EtcdClients, openWatch, tempDir, waitFor } from '../helpers/index.js';
import { Cluster, type ClusterMember } from './cluster.js';
import type { CheckResult, Violation } from './history.js';
import { Nemesis } from './nemesis.js';
import { type Rng, seededRng } from './rng.js';
import { now } from './workload.js';

export const AUTH_PREFIX = '/auth/';
export const INSIDE = '/auth/in/';
export const OUTSIDE = '/auth/out/';
export const LATE_KEY = '/auth/late';
const PASSWORDS = { root: 'rootpw', limited: 'limpw' } as const;
type User = keyof typeof PASSWORDS;
const DENIED = { code: 7, text: 'etcdserver: permission denied' };
/** etcd's cancel_reason of a watch refused for permissions: the Go status error's text. */
const WATCH_DENIED = 'rpc error: code = PermissionDenied desc = etcdserver: permission denied';
const CALL_DEADLINE_MS = 3_000;
const b = (s: string) => Buffer.from(s);
const prefixEnd = (p: string) => b(p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1));

export type AuthOpType = 'put' | 'get' | 'delete' | 'txn' | 'watch';

/** One request and what became of it. */
export interface AuthOp {
  id: number;
  user: User;
  type: AuthOpType;
  key: string;
  rangeEnd?: string;
  /** Whether the permission allowed it when invoked; undefined while the revoke was in flight. */
  allowed: boolean | undefined;
  invoke: number;
  complete?: number;
  /** ok: served; denied: refused for permissions; error: anything else (faults, stale token, ...). */
  outcome: 'ok' | 'denied' | 'error';
  code?: number;
  error?: string;
  value?: string;
}

export interface AuthRunOptions {
  seed: number;
  durationMs: number;
  token: 'simple' | 'jwt';
  faults: string[];
  gapMs?: [number, number];
  holdMs?: [number, number];
  log?: (line: string) => void;
}

export interface AuthRunResult {
  ops: AuthOp[];
  /** Every event under AUTH_PREFIX from revision 1 (read as root at the end). */
  events: { key: string; value: string; modRevision: number }[];
  revokedAt: number | undefined;
  faults: { kind: string; detail: string }[];
  result: CheckResult;
  counters: Record<string, number>;
  reauthentications: number;
}

/** The allowed-ness of a request by `limited` over [key, rangeEnd) at a time, given the revoke's span. */
export function limitedMayAccess(
  key: string,
  rangeEnd: string | undefined,
  at: { invoke: number; revokeSent?: number; revokedAt?: number },
): boolean | undefined {
  const inPrefix = (k: string) => k.startsWith(INSIDE);
  if (rangeEnd === undefined) {
    if (inPrefix(key)) return true;
    if (key !== LATE_KEY) return false;
    if (at.revokeSent === undefined || at.invoke < at.revokeSent) return true;
    return at.revokedAt !== undefined && at.invoke > at.revokedAt ? false : undefined;
  }
  // A range is allowed only inside one permitted range: here only [INSIDE, prefixEnd(INSIDE)).
  return key >= INSIDE && rangeEnd <= prefixEnd(INSIDE).toString();
}

/** Logs in on some live member; retries until it succeeds (faults may hold every member away). */
class Session {
  token = '';
  reauths = 0;
  constructor(
    private readonly cluster: Cluster,
    private readonly user: User,
  ) {}
  async login(): Promise<void> {
    this.reauths++;
    await waitFor(
      async () => {
        for (const m of this.cluster.members) {
          if (!this.cluster.alive(m) || m.paused) continue;
          const c = connect(m.client);
          try {
            const r = await c.auth.authenticate(
              { name: this.user, password: PASSWORDS[this.user] },
              { deadlineMs: CALL_DEADLINE_MS },
            );
            this.token = r.token;
            return true;
          } catch {
            // down, cut off or not ready: the next one
          } finally {
            c.close();
          }
        }
        return false;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: `${this.user} authenticated` },
    );
  }
}

const isTokenProblem = (e: Partial<ServiceError>) =>
  (e.code === 16 && e.details === 'etcdserver: invalid auth token') ||
  (e.code === 3 && e.details === 'etcdserver: revision of auth store is old') ||
  (e.code === 3 && e.details === 'etcdserver: user name is empty');

async function setUpAuth(c: EtcdClients): Promise<void> {
  await c.auth.userAdd({ name: 'root', password: PASSWORDS.root });
  await c.auth.userGrantRole({ user: 'root', role: 'root' });
  await c.auth.userAdd({ name: 'limited', password: PASSWORDS.limited });
  await c.auth.roleAdd({ name: 'rw-in' });
  await c.auth.roleGrantPermission({
    name: 'rw-in',
    perm: { permType: 2 /* READWRITE */, key: b(INSIDE), rangeEnd: prefixEnd(INSIDE) },
  });
  await c.auth.roleGrantPermission({
    name: 'rw-in',
    perm: { permType: 2 /* READWRITE */, key: b(LATE_KEY) },
  });
  await c.auth.userGrantRole({ user: 'limited', role: 'rw-in' });
  await c.auth.authEnable({});
}

function jwtFlag(dir: string): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'jwt-priv.pem'), privateKey.export({ format: 'pem', type: 'pkcs1' }));
  writeFileSync(join(dir, 'jwt-pub.pem'), publicKey.export({ format: 'pem', type: 'spki' }));
  return `jwt,pub-key=${join(dir, 'jwt-pub.pem')},priv-key=${join(dir, 'jwt-priv.pem')},sign-method=RS256,ttl=10m`;
}

export async function runAuthJepsen(o: AuthRunOptions): Promise<AuthRunResult> {
  const log = o.log ?? (() => {});
  const keys = tempDir('tsetcd-jwt-');
  const cluster = await Cluster.start(3, ['--auth-token', o.token === 'jwt' ? jwtFlag(keys.path) : 'simple']);
  const ops: AuthOp[] = [];
  const rng: Rng = seededRng(o.seed);
  let revokeSent: number | undefined;
  let revokedAt: number | undefined;
  const sessions = { root: new Session(cluster, 'root'), limited: new Session(cluster, 'limited') };
  try {
    const c0 = connect(cluster.members[0]!.client);
    const ml = await waitFor(async () => c0.cluster.memberList({}), { what: 'member list' });
    for (const m of cluster.members) m.id = ml.members.find((x) => x.name === m.name)!.ID.toString();
    await setUpAuth(c0);
    c0.close();
    await sessions.root.login();
    await sessions.limited.login();
    log(`auth on (${o.token}); cluster ${cluster.members.map((m) => m.client).join(' ')}`);

    let stop = false;
    const stopped = () => stop;
    let nextId = 0;
    const client = async (ci: number, user: User) => {
      const member: ClusterMember = cluster.members[ci % cluster.members.length]!;
      let conn: EtcdClients | undefined;
      let seq = 0;
      while (!stopped()) {
        conn ??= connect(member.client);
        const op = pickOp(rng, user, ci, seq++);
        op.id = nextId++;
        op.invoke = now();
        op.allowed =
          user === 'root'
            ? true
            : limitedMayAccess(op.key, op.rangeEnd, { invoke: op.invoke, revokeSent, revokedAt });
        ops.push(op);
        const session = sessions[user];
        const call = { deadlineMs: CALL_DEADLINE_MS, token: session.token };
        try {
          await perform(conn, op, call);
          op.outcome = 'ok';
        } catch (e) {
          const err = e as Partial<ServiceError>;
          op.code = err.code;
          op.error = err.details ?? (e as Error).message;
          op.outcome = err.code === DENIED.code && err.details === DENIED.text ? 'denied' : 'error';
          if (isTokenProblem(err)) await session.login();
          else if (err.code === 14 || err.code === 4 || err.code === 1) {
            conn.close();
            conn = undefined;
            await new Promise((r) => setTimeout(r, 100)); // the member is down: do not spin
          }
        }
        op.complete = now();
      }
      conn?.close();
    };
    const nemesis = new Nemesis(cluster, {
      faults: o.faults,
      rng: seededRng(o.seed ^ 0xa070),
      gapMs: o.gapMs ?? [1000, 2500],
      holdMs: o.holdMs ?? [1000, 3000],
    });
    const revoker = (async () => {
      await new Promise((r) => setTimeout(r, o.durationMs / 2));
      revokeSent = now();
      await waitFor(
        async () => {
          for (const m of cluster.members) {
            if (!cluster.alive(m) || m.paused) continue;
            const c = connect(m.client);
            try {
              await c.auth.roleRevokePermission(
                { role: 'rw-in', key: b(LATE_KEY) },
                { deadlineMs: CALL_DEADLINE_MS, token: sessions.root.token },
              );
              return true;
            } catch (e) {
              const err = e as Partial<ServiceError>;
              // an earlier attempt applied it, its answer lost
              if (err.details === 'etcdserver: permission is not granted to the role') return true;
              if (isTokenProblem(err)) await sessions.root.login();
            } finally {
              c.close();
            }
          }
          return false;
        },
        { timeoutMs: 120_000, intervalMs: 200, what: 'the revoke applied' },
      );
      revokedAt = now();
      log(`revoked ${LATE_KEY} from rw-in after ${((revokedAt - revokeSent) / 1000).toFixed(1)} s`);
    })();
    const tasks = [
      client(0, 'root'),
      client(1, 'limited'),
      client(2, 'limited'),
      client(3, 'limited'),
      nemesis.run(stopped),
      revoker,
    ];
    try {
      await Promise.race([new Promise((r) => setTimeout(r, o.durationMs)), Promise.all(tasks)]);
    } finally {
      // also when a task failed (e.g. no recovery): the clients must end, or the process never exits
      stop = true;
    }
    await Promise.all(tasks);
    await nemesis.healAll();
    for (const m of cluster.members) await cluster.scrape(m);
    // The store's history as root: every write under the prefix, whoever made it.
    await sessions.root.login();
    const events = await historyAsRoot(cluster, sessions.root.token);
    const result = checkAuth(ops, events);
    return {
      ops,
      events,
      revokedAt,
      faults: nemesis.faults.map((f) => ({ kind: f.kind, detail: f.detail })),
      result,
      counters: Object.fromEntries(cluster.counters),
      reauthentications: sessions.root.reauths + sessions.limited.reauths - 2,
    };
  } finally {
    await cluster.destroy();
    keys.remove();
  }
}

function pickOp(rng: Rng, user: User, ci: number, seq: number): AuthOp {
  const op: AuthOp = { id: 0, user, type: 'put', key: '', allowed: true, invoke: 0, outcome: 'error' };
  const k = () => String(rng.int(8));
  const value = `${user === 'limited' ? 'lim' : 'root'}-${ci}-${seq}`;
  if (user === 'root') {
    op.key = rng.next() < 0.5 ? `${INSIDE}${k()}` : `${OUTSIDE}${k()}`;
    op.value = value;
    return op;
  }
  const roll = rng.next();
  if (roll < 0.25) Object.assign(op, { type: 'put', key: `${INSIDE}${k()}`, value });
  else if (roll < 0.35) Object.assign(op, { type: 'get', key: `${INSIDE}${k()}` });
  else if (roll < 0.5) Object.assign(op, { type: 'put', key: `${OUTSIDE}${k()}`, value });
  else if (roll < 0.58) Object.assign(op, { type: 'get', key: `${OUTSIDE}${k()}` });
  else if (roll < 0.64)
    Object.assign(op, { type: 'get', key: AUTH_PREFIX, rangeEnd: prefixEnd(AUTH_PREFIX).toString() });
  else if (roll < 0.68) Object.assign(op, { type: 'delete', key: `${OUTSIDE}${k()}` });
  else if (roll < 0.76) Object.assign(op, { type: 'txn', key: `${OUTSIDE}${k()}`, value });
  else if (roll < 0.8)
    Object.assign(op, { type: 'watch', key: OUTSIDE, rangeEnd: prefixEnd(OUTSIDE).toString() });
  else if (roll < 0.83)
    Object.assign(op, { type: 'watch', key: INSIDE, rangeEnd: prefixEnd(INSIDE).toString() });
  else Object.assign(op, { type: 'put', key: LATE_KEY, value });
  return op;
}

async function perform(c: EtcdClients, op: AuthOp, call: { deadlineMs: number; token: string }) {
  switch (op.type) {
    case 'put':
      await c.kv.put({ key: b(op.key), value: b(op.value!) }, call);
      return;
    case 'get':
      await c.kv.range(
        op.rangeEnd === undefined ? { key: b(op.key) } : { key: b(op.key), rangeEnd: b(op.rangeEnd) },
        call,
      );
      return;
    case 'delete':
      await c.kv.deleteRange({ key: b(op.key) }, call);
      return;
    case 'txn':
      // compare inside the range (allowed), put outside it (not): the whole txn must be refused
      await c.kv.txn(
        {
          compare: [
            { key: b(`${INSIDE}0`), target: rpc.Compare_CompareTarget.VERSION, result: 2, version: -1n },
          ],
          success: [{ requestPut: { key: b(op.key), value: b(op.value!) } }],
          failure: [{ requestPut: { key: b(op.key), value: b(op.value!) } }],
        },
        call,
      );
      return;
    case 'watch': {
      const w = openWatch(c, { token: call.token });
      try {
        w.send({ createRequest: { key: b(op.key), rangeEnd: b(op.rangeEnd!) } });
        const r = await w.next(call.deadlineMs);
        if (r.canceled) {
          // refused as etcd refuses it: counted as the same denial; any other reason is an error
          const denied = r.cancelReason === WATCH_DENIED;
          throw Object.assign(new Error(r.cancelReason), {
            code: denied ? DENIED.code : 2,
            details: denied ? DENIED.text : r.cancelReason,
          });
        }
        if (!r.created)
          throw Object.assign(new Error('no created response'), { code: 2, details: 'no created' });
      } finally {
        w.close();
      }
      return;
    }
  }
}

async function historyAsRoot(cluster: Cluster, token: string): Promise<AuthRunResult['events']> {
  const c = connect(cluster.members[0]!.client);
  try {
    const head = Number(
      (await c.kv.range({ key: b(AUTH_PREFIX), countOnly: true }, { token, deadlineMs: 10_000 })).header!
        .revision,
    );
    const events: AuthRunResult['events'] = [];
    const w = openWatch(c, { token });
    try {
      w.send({
        createRequest: { key: b(AUTH_PREFIX), rangeEnd: prefixEnd(AUTH_PREFIX), startRevision: 1n },
      });
      // every revision of the run is a write under the prefix: the history ends at the head
      let last = 0;
      while (last < head) {
        const r = await w.next(30_000);
        if (r.canceled) throw new Error(`history watch canceled: ${r.cancelReason}`);
        for (const e of r.events) {
          last = Number(e.kv!.modRevision);
          events.push({ key: e.kv!.key.toString(), value: e.kv!.value.toString(), modRevision: last });
        }
      }
    } finally {
      w.close();
    }
    return events;
  } finally {
    c.close();
  }
}

/** The auth checker (see the file comment). */
export function checkAuth(ops: AuthOp[], events: AuthRunResult['events']): CheckResult {
  const violations: Violation[] = [];
  const v = (kind: string, detail: string) => violations.push({ checker: 'auth', kind, detail });
  const desc = (op: AuthOp) =>
    `#${op.id} ${op.user} ${op.type}(${op.key}${op.rangeEnd ? `..${op.rangeEnd}` : ''}) ${op.outcome}${op.error ? ` [${op.code} ${op.error}]` : ''}`;
  let checked = 0;
  for (const op of ops) {
    if (op.allowed === undefined) continue;
    checked++;
    if (!op.allowed && op.outcome === 'ok') v('permission-bypassed', desc(op));
    if (op.allowed && op.outcome === 'denied') v('wrongly-denied', desc(op));
    if (!op.allowed && op.outcome === 'error' && op.code === 7) v('inexact-denial', desc(op));
  }
  for (const e of events) {
    checked++;
    if (e.value.startsWith('lim-') && !e.key.startsWith(INSIDE) && e.key !== LATE_KEY)
      v(
        'write-bypassed',
        `${e.key}=${e.value} at revision ${e.modRevision}: written by limited outside its range`,
      );
  }
  return { checker: 'auth', violations, undecided: [], checked };
}
