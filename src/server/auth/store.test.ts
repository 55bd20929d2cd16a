// Goal: the auth store applies etcd 3.4's rules (root rules, errors, auth revision) and reloads the same
// state from its records. Method: drive AuthStore through apply() on an in-memory backend, as the
// member does for committed entries, and check responses, thrown wire errors, and a reload.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apply, MemoryBackend, newStore } from './store-testing.js';

function kindOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { kind?: string }).kind ?? String(err);
  }
}

test('root rules, errors and the auth revision follow etcd 3.4', () => {
  const s = newStore();
  assert.equal(s.revision, 1n);
  assert.equal(
    kindOf(() => apply(s, { authEnable: {} })),
    'rootUserNotExist',
  );
  apply(s, { authUserAdd: { name: 'root', hashedPassword: 'h' } });
  assert.equal(s.revision, 2n);
  assert.equal(
    kindOf(() => apply(s, { authUserAdd: { name: 'root' } })),
    'userAlreadyExist',
  );
  assert.equal(
    kindOf(() => apply(s, { authUserAdd: { name: '' } })),
    'userEmpty',
  );
  assert.equal(
    kindOf(() => apply(s, { authEnable: {} })),
    'rootRoleNotExist',
  );
  // The root role needs no RoleAdd to be granted.
  apply(s, { authUserGrantRole: { user: 'root', role: 'root' } });
  assert.equal(
    kindOf(() => apply(s, { authUserGrantRole: { user: 'root', role: 'nope' } })),
    'roleNotFound',
  );
  assert.equal(
    kindOf(() => apply(s, { authRoleGet: { role: 'root' } })),
    'roleNotFound',
  );
  const before = s.revision;
  apply(s, { authUserGrantRole: { user: 'root', role: 'root' } }); // already granted: no change
  assert.equal(s.revision, before);
  apply(s, { authEnable: {} });
  assert.equal(s.revision, before, 'enable keeps the revision');
  assert.equal(s.enabled, true);
  assert.equal(
    kindOf(() => apply(s, { authUserDelete: { name: 'root' } })),
    'invalidAuthMgmt',
  );
  assert.equal(
    kindOf(() => apply(s, { authRoleDelete: { role: 'root' } })),
    'invalidAuthMgmt',
  );
  assert.equal(
    kindOf(() => apply(s, { authUserRevokeRole: { name: 'root', role: 'root' } })),
    'invalidAuthMgmt',
  );
  apply(s, { authUserAdd: { name: 'u', hashedPassword: 'h' } });
  assert.equal(
    kindOf(() => apply(s, { authUserList: {} }, 'u')),
    'permissionDenied',
  );
  assert.equal(
    kindOf(() => apply(s, { authUserList: {} }, '')),
    'userEmpty',
  );
  assert.equal(
    kindOf(() => apply(s, { authUserList: {} }, 'ghost')),
    'userNotFound',
  );
  assert.deepEqual(apply(s, { authUserGet: { name: 'u' } }, 'u'), { roles: [] }, 'a user reads itself');
  assert.deepEqual(apply(s, { authUserList: {} }), { users: ['root', 'u'] });
  apply(s, { authRoleAdd: { name: 'r' } });
  assert.equal(
    kindOf(() => apply(s, { authRoleAdd: { name: 'r' } })),
    'roleAlreadyExist',
  );
  assert.equal(
    kindOf(() => apply(s, { authRoleAdd: { name: '' } })),
    'roleEmpty',
  );
  assert.equal(
    kindOf(() => apply(s, { authRoleRevokePermission: { role: 'r', key: Buffer.from('k') } })),
    'permissionNotGranted',
  );
  for (const key of ['m', 'c', 'x']) {
    apply(s, { authRoleGrantPermission: { name: 'r', perm: { permType: 0, key: Buffer.from(key) } } });
  }
  apply(s, { authRoleGrantPermission: { name: 'r', perm: { permType: 2, key: Buffer.from('m') } } });
  const got = apply(s, { authRoleGet: { role: 'r' } }) as { perm: { key: Buffer; permType: number }[] };
  assert.deepEqual(
    got.perm.map((p) => [p.key.toString(), p.permType]),
    [
      ['c', 0],
      ['m', 2],
      ['x', 0],
    ],
    'sorted by key; a second grant of the same key and range updates its type',
  );
  apply(s, { authUserGrantRole: { user: 'u', role: 'r' } });
  assert.equal(
    kindOf(() => apply(s, { authUserRevokeRole: { name: 'u', role: 'zz' } })),
    'roleNotGranted',
  );
  apply(s, { authRoleDelete: { role: 'r' } });
  assert.deepEqual(apply(s, { authUserGet: { name: 'u' } }), { roles: [] }, 'deleting a role revokes it');
  const rev = s.revision;
  apply(s, { authDisable: {} });
  assert.equal(s.revision, rev + 1n, 'disable moves the revision');
});

test('a reload from the records gives the same state', () => {
  const backend = new MemoryBackend();
  const s = newStore(backend);
  apply(s, { authUserAdd: { name: 'root', hashedPassword: 'h' } });
  apply(s, { authUserGrantRole: { user: 'root', role: 'root' } });
  apply(s, { authRoleAdd: { name: 'r' } });
  apply(s, {
    authRoleGrantPermission: {
      name: 'r',
      perm: { permType: 1, key: Buffer.from('a'), rangeEnd: Buffer.from([0]) },
    },
  });
  apply(s, { authEnable: {} });
  const t = newStore(backend);
  assert.equal(t.enabled, true);
  assert.equal(t.revision, s.revision);
  assert.deepEqual(apply(t, { authRoleGet: { role: 'r' } }), apply(s, { authRoleGet: { role: 'r' } }));
  assert.deepEqual(apply(t, { authUserGet: { name: 'root' } }), { roles: ['root'] });
});

test('stale revisions, unknown users and empty users are refused as etcd does', () => {
  const s = newStore();
  apply(s, { authUserAdd: { name: 'root', hashedPassword: 'h' } });
  apply(s, { authUserGrantRole: { user: 'root', role: 'root' } });
  apply(s, { authUserAdd: { name: 'u', hashedPassword: 'h' } });
  apply(s, { authRoleAdd: { name: 'r' } });
  apply(s, { authRoleGrantPermission: { name: 'r', perm: { permType: 2, key: Buffer.from('k') } } });
  apply(s, { authUserGrantRole: { user: 'u', role: 'r' } });
  const k = Buffer.from('k');
  const none = Buffer.alloc(0);
  // Disabled: nothing is checked.
  assert.doesNotThrow(() => s.checkPut(undefined, Buffer.from('zzz')));
  apply(s, { authEnable: {} });
  assert.equal(
    kindOf(() => s.checkPut(undefined, k)),
    'userEmpty',
  );
  assert.equal(
    kindOf(() => s.checkPut({ username: 'u', revision: s.revision - 1n }, k)),
    'authOldRevision',
  );
  assert.equal(
    kindOf(() => s.checkPut({ username: 'ghost', revision: s.revision }, k)),
    'permissionDenied',
  );
  assert.doesNotThrow(() => s.checkPut({ username: 'u', revision: s.revision }, k));
  assert.doesNotThrow(() => s.checkRange({ username: 'u', revision: s.revision }, k, none));
  assert.equal(
    kindOf(() => s.checkPut({ username: 'u', revision: s.revision }, Buffer.from('k2'))),
    'permissionDenied',
  );
  assert.doesNotThrow(() => s.checkPut({ username: 'root', revision: s.revision }, Buffer.from('any')));
  // Nested txns are checked too (etcd 3.4 skips them; see store.ts).
  const nested = {
    compare: [],
    success: [
      {
        requestTxn: {
          compare: [],
          success: [{ requestPut: { key: Buffer.from('x'), value: none } }],
          failure: [],
        },
      },
    ],
    failure: [],
  };
  assert.equal(
    kindOf(() => s.checkTxn({ username: 'u', revision: s.revision }, nested as never)),
    'permissionDenied',
  );
});
