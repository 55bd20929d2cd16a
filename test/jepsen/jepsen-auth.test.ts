// Goal: the Jepsen suite with auth on (issue 13): root and a user limited to a key range among the
// clients, some of its requests outside the range (keys, spanning ranges, txns, watches, a key whose
// permission is revoked halfway), while members are killed (all at once too: simple tokens die with
// the process) and isolated. No request outside the permission may succeed, every denial is etcd's
// exact one, nothing inside it is denied, and the store's history holds no write by the limited user
// outside its range — with simple tokens and with JWT. Method: test/jepsen/auth-run.ts; the checker
// itself is proven on hand-built histories first. Long: `npm run jepsen:auth -- --duration 600`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AuthOp,
  checkAuth,
  INSIDE,
  LATE_KEY,
  limitedMayAccess,
  OUTSIDE,
  runAuthJepsen,
} from './auth-run.js';

const SEED = Number(process.env.JEPSEN_SEED ?? 20261203);

const op = (o: Partial<AuthOp>): AuthOp => ({
  id: 1,
  user: 'limited',
  type: 'put',
  key: `${INSIDE}1`,
  allowed: true,
  invoke: 0,
  outcome: 'ok',
  ...o,
});

test('the auth checker rejects a bypass, a wrong denial, an inexact denial and a bypassed write', () => {
  assert.deepEqual(checkAuth([op({}), op({ allowed: false, outcome: 'denied' })], []).violations, []);
  const r = checkAuth(
    [
      op({ key: `${OUTSIDE}1`, allowed: false, outcome: 'ok' }),
      op({ allowed: true, outcome: 'denied' }),
      op({ key: `${OUTSIDE}2`, allowed: false, outcome: 'error', code: 7, error: 'permission denied' }),
      op({ key: LATE_KEY, allowed: undefined, outcome: 'ok' }),
    ],
    [
      { key: `${OUTSIDE}3`, value: 'lim-1-2', modRevision: 5 },
      { key: `${OUTSIDE}3`, value: 'root-0-1', modRevision: 6 },
      { key: `${INSIDE}3`, value: 'lim-1-3', modRevision: 7 },
    ],
  );
  assert.deepEqual(
    r.violations.map((v) => v.kind),
    ['permission-bypassed', 'wrongly-denied', 'inexact-denial', 'write-bypassed'],
  );
});

test('what the limited user may access, before, during and after the revoke', () => {
  const span = { invoke: 10, revokeSent: 20, revokedAt: 30 };
  assert.equal(limitedMayAccess(`${INSIDE}x`, undefined, span), true);
  assert.equal(limitedMayAccess(`${OUTSIDE}x`, undefined, span), false);
  assert.equal(limitedMayAccess(LATE_KEY, undefined, span), true);
  assert.equal(limitedMayAccess(LATE_KEY, undefined, { ...span, invoke: 25 }), undefined);
  assert.equal(limitedMayAccess(LATE_KEY, undefined, { ...span, invoke: 31 }), false);
  assert.equal(limitedMayAccess(INSIDE, '/auth/in0', span), true);
  assert.equal(limitedMayAccess('/auth/', '/auth0', span), false);
});

for (const token of ['simple', 'jwt'] as const) {
  test(`auth on (${token} tokens) across kills and partitions: no permission bypassed`, {
    timeout: 300_000,
  }, async (t) => {
    const r = await runAuthJepsen({
      seed: SEED + (token === 'jwt' ? 1 : 0),
      durationMs: 20_000,
      token,
      faults: ['kill-all', 'partition-leader', 'kill-leader'],
      gapMs: [2500, 4000],
      holdMs: [800, 2000],
    });
    for (const f of r.faults) t.diagnostic(`fault ${f.kind}: ${f.detail}`);
    const n = (user: string, allowed: boolean, outcome: string) =>
      r.ops.filter((o) => o.user === user && o.allowed === allowed && o.outcome === outcome).length;
    t.diagnostic(
      `ops ${r.ops.length}: limited allowed ok ${n('limited', true, 'ok')}, not allowed denied ${n('limited', false, 'denied')}; root ok ${n('root', true, 'ok')}; re-logins ${r.reauthentications}; history ${r.events.length} events`,
    );
    const errors: Record<string, number> = {};
    for (const o of r.ops)
      if (o.outcome === 'error')
        errors[`${o.code} ${o.error}`.slice(0, 80)] = (errors[`${o.code} ${o.error}`.slice(0, 80)] ?? 0) + 1;
    t.diagnostic(`errors: ${JSON.stringify(errors)}`);
    assert.deepEqual(
      r.result.violations.slice(0, 20).map((v) => `${v.kind}: ${v.detail}`),
      [],
    );
    // (the machine this runs on may be loaded: a few of each is enough to mean something)
    assert.ok(n('limited', true, 'ok') >= 3, 'the limited user did too little inside its range');
    assert.ok(n('limited', false, 'denied') >= 3, 'too few requests outside the range were refused');
    assert.ok(r.faults.length >= 1, 'no fault injected');
    assert.ok(r.revokedAt !== undefined, 'the permission was not revoked');
  });
}
