// Goal: no request is allowed that etcd's permission rules deny, or denied that they allow. Method:
// fast-check draws users, roles and permissions (single keys, ranges, prefixes, from-key) over a small
// alphabet, applies them to a real AuthStore through apply() (as committed entries are), and checks
// random reads and writes (single keys and ranges) against a small model written differently from
// the store: a key range is permitted when every elementary segment between consecutive interval
// endpoints inside it lies within one granted interval; a single key when some interval holds it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { apply, newStore } from './store-testing.js';

type Perm = { role: number; type: 0 | 1 | 2; key: string; end: string | null };
/** end: '' = single key, '\0' = from-key, otherwise [key, end). */

const KEYS = ['a', 'aa', 'ab', 'b', 'ba', 'c', 'ca', 'd'];
const key = fc.constantFrom(...KEYS);
const INF = '\uffff'; // above every key of the alphabet

function permGen(roles: number): fc.Arbitrary<Perm> {
  return fc.oneof(
    fc.record({ role: fc.nat(roles - 1), type: fc.constantFrom(0, 1, 2), key, end: fc.constant('') }),
    fc
      .tuple(fc.nat(roles - 1), fc.constantFrom(0, 1, 2), key, key)
      .filter(([, , a, b]) => a < b)
      .map(([role, type, k, end]) => ({ role, type, key: k, end }) as Perm),
    // a prefix: [k, k with its last byte + 1)
    fc.record({ role: fc.nat(roles - 1), type: fc.constantFrom(0, 1, 2), key, end: fc.constant(null) }),
    fc.record({ role: fc.nat(roles - 1), type: fc.constantFrom(0, 1, 2), key, end: fc.constant('\0') }),
  ) as fc.Arbitrary<Perm>;
}

function prefixEnd(k: string): string {
  return k.slice(0, -1) + String.fromCharCode(k.charCodeAt(k.length - 1) + 1);
}

/** The model's interval of a permission: [begin, end) with INF for +infinity. */
function interval(p: Perm): [string, string] {
  if (p.end === '') return [p.key, `${p.key}\0`];
  if (p.end === null) return [p.key, prefixEnd(p.key)];
  if (p.end === '\0') return [p.key, INF];
  return [p.key, p.end];
}

function modelPermits(ivls: [string, string][], begin: string, end: string | undefined): boolean {
  if (end === undefined) return ivls.some(([b, e]) => b <= begin && begin < e);
  const points = new Set([begin, end]);
  for (const [b, e] of ivls) {
    if (b > begin && b < end) points.add(b);
    if (e > begin && e < end) points.add(e);
  }
  const sorted = [...points].sort();
  for (let i = 0; i + 1 < sorted.length; i++) {
    const x = sorted[i] as string;
    const y = sorted[i + 1] as string;
    if (!ivls.some(([b, e]) => b <= x && e >= y)) return false;
  }
  return true;
}

test('permission checks agree with a model of etcd 3.4 rules', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }).chain((roles) =>
        fc.record({
          roles: fc.constant(roles),
          perms: fc.array(permGen(roles), { maxLength: 8 }),
          grants: fc.array(fc.tuple(fc.nat(2), fc.nat(roles - 1)), { maxLength: 6 }),
          rootUser: fc.nat(2),
          revoke: fc.option(fc.nat(7)),
          checks: fc.array(
            fc.record({
              user: fc.nat(2),
              write: fc.boolean(),
              key,
              end: fc.oneof(fc.constant(undefined), key, fc.constant('\0')),
            }),
            { minLength: 1, maxLength: 20 },
          ),
        }),
      ),
      (c) => {
        const s = newStore();
        apply(s, { authUserAdd: { name: 'root', hashedPassword: 'h' } });
        apply(s, { authUserGrantRole: { user: 'root', role: 'root' } });
        for (let u = 0; u < 3; u++) apply(s, { authUserAdd: { name: `u${u}`, hashedPassword: 'h' } });
        for (let r = 0; r < c.roles; r++) apply(s, { authRoleAdd: { name: `r${r}` } });
        const perms: Perm[] = [];
        for (const p of c.perms) {
          const rangeEnd = p.end === null ? prefixEnd(p.key) : p.end;
          apply(s, {
            authRoleGrantPermission: {
              name: `r${p.role}`,
              perm: { permType: p.type, key: Buffer.from(p.key), rangeEnd: Buffer.from(rangeEnd, 'latin1') },
            },
          });
          // etcd compares only the role's first permission (by key) whose key is >= the new one's: the
          // same key and range end there updates its type; anything else is added.
          const mine = perms
            .filter((q) => q.role === p.role)
            .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
          const first = mine.find((q) => q.key >= p.key);
          if (first && first.key === p.key && interval(first)[1] === interval(p)[1]) first.type = p.type;
          else perms.push({ ...p });
        }
        if (c.revoke !== null && perms[c.revoke]) {
          const p = perms[c.revoke] as Perm;
          const rangeEnd = p.end === null ? prefixEnd(p.key) : p.end;
          apply(s, {
            authRoleRevokePermission: {
              role: `r${p.role}`,
              key: Buffer.from(p.key),
              rangeEnd: Buffer.from(rangeEnd, 'latin1'),
            },
          });
          // etcd drops every permission of the role with that key and range end.
          for (let i = perms.length - 1; i >= 0; i--) {
            const q = perms[i] as Perm;
            if (q.role === p.role && q.key === p.key && interval(q)[1] === interval(p)[1]) perms.splice(i, 1);
          }
        }
        const userRoles = new Map<number, Set<number>>();
        for (const [u, r] of c.grants) {
          apply(s, { authUserGrantRole: { user: `u${u}`, role: `r${r}` } });
          userRoles.set(u, (userRoles.get(u) ?? new Set()).add(r));
        }
        apply(s, { authUserGrantRole: { user: `u${c.rootUser}`, role: 'root' } });
        apply(s, { authEnable: {} });
        for (const q of c.checks) {
          const name = `u${q.user}`;
          const ai = { username: name, revision: s.revision };
          const kb = Buffer.from(q.key);
          const eb = q.end === undefined ? Buffer.alloc(0) : Buffer.from(q.end, 'latin1');
          if (q.end !== undefined && q.end !== '\0' && q.end <= q.key) continue; // empty ranges: not modelled
          let allowed: boolean;
          try {
            if (q.write) s.checkDeleteRange(ai, kb, eb);
            else s.checkRange(ai, kb, eb);
            allowed = true;
          } catch (err) {
            assert.equal((err as { kind?: string }).kind, 'permissionDenied');
            allowed = false;
          }
          const roles = userRoles.get(q.user) ?? new Set();
          const ivls = perms
            .filter((p) => roles.has(p.role) && (p.type === 2 || p.type === (q.write ? 1 : 0)))
            .map(interval);
          const end = q.end === undefined ? undefined : q.end === '\0' ? INF : q.end;
          const expected = q.user === c.rootUser || modelPermits(ivls, q.key, end);
          assert.equal(allowed, expected, `${name} ${q.write ? 'write' : 'read'} ${q.key}..${q.end}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});
