// Goal: tsetcd's Lease, Cluster, Maintenance and Auth APIs answer like etcd 3.4's — especially the
// errors (gRPC code and exact text) and the odd corners (minimum lease TTL, headers missing from
// some responses, learners, auth enable/disable). Method: as in kv-diff — each case runs against a
// fresh etcd and a fresh tsetcd with the same flags; normalized transcripts must be equal. Values
// that legitimately differ (random lease and member ids, tokens, remaining TTLs) are projected to
// what must agree.
import { status as S } from '@grpc/grpc-js';
import { AlarmRequest_AlarmAction, AlarmType } from '../../src/proto/etcdserverpb/rpc.js';
import { b, diffCase, shapeOf } from '../helpers/index.js';

/** Keeps a response's fields but replaces the named ones by their type (random or time-dependent). */
const hide =
  (...fields: string[]) =>
  (v: unknown): unknown => {
    const out = { ...(v as Record<string, unknown>) };
    for (const f of fields) if (f in out) out[f] = shapeOf(out[f]);
    return out;
  };

diffCase('grpc: Lease grant, TTL floor and ceiling, duplicates, revoke, time-to-live', async (s) => {
  // With the default 100 ms heartbeat and 1 s election timeout the minimum TTL is 2 s.
  await s.rpc('grant TTL 1 (raised to the minimum)', (c) => c.lease.leaseGrant({ TTL: 1, ID: 11 }));
  await s.rpc('grant TTL 0', (c) => c.lease.leaseGrant({ TTL: 0, ID: 12 }));
  await s.rpc('grant TTL -5', (c) => c.lease.leaseGrant({ TTL: -5, ID: 13 }));
  await s.rpc('grant with chosen id', (c) => c.lease.leaseGrant({ TTL: 100, ID: 5 }));
  await s.rpc('grant same id again', (c) => c.lease.leaseGrant({ TTL: 100, ID: 5 }), {
    fail: [S.FAILED_PRECONDITION, 'etcdserver: lease already exists'],
  });
  await s.rpc('grant max TTL 9000000000', (c) => c.lease.leaseGrant({ TTL: 9_000_000_000, ID: 6 }));
  await s.rpc('grant TTL above max', (c) => c.lease.leaseGrant({ TTL: 9_000_000_001 }), {
    fail: [S.OUT_OF_RANGE, 'etcdserver: too large lease TTL'],
  });
  await s.rpc('grant with server-chosen id', (c) => c.lease.leaseGrant({ TTL: 50 }), { project: hide('ID') });
  await s.rpc('attach keys', (c) => c.kv.put({ key: b('k1'), value: b('v'), lease: 5 }));
  await s.rpc('attach more keys', (c) => c.kv.put({ key: b('k2'), value: b('v'), lease: 5 }));
  await s.rpc('time to live with keys', (c) => c.lease.leaseTimeToLive({ ID: 5, keys: true }), {
    project: (v) => {
      const r = v as { TTL: string; grantedTTL: string; keys: unknown[] };
      // etcd lists a lease's keys in Go map order (random); compare them as a set.
      const keys = [...r.keys].map(String).sort();
      return { ...(hide('TTL')(v) as object), keys, ttlInRange: Number(r.TTL) > 90 && Number(r.TTL) <= 100 };
    },
  });
  await s.rpc('time to live without keys', (c) => c.lease.leaseTimeToLive({ ID: 5 }), {
    project: hide('TTL'),
  });
  await s.rpc('time to live of unknown lease', (c) => c.lease.leaseTimeToLive({ ID: 999, keys: true }));
  await s.rpc('leases', (c) => c.lease.leaseLeases({}), {
    project: (v) => {
      const ids = (v as { leases: { ID: string }[] }).leases.map((l) => l.ID);
      return {
        known: ids.filter((id) => ['5', '6', '11', '12', '13'].includes(id)).sort(),
        total: ids.length,
      };
    },
  });
  await s.rpc('revoke', (c) => c.lease.leaseRevoke({ ID: 5 }));
  await s.rpc('keys are gone', (c) => c.kv.range({ key: b('k'), rangeEnd: b('l') }));
  await s.rpc('revoke again', (c) => c.lease.leaseRevoke({ ID: 5 }), {
    fail: [S.NOT_FOUND, 'etcdserver: requested lease not found'],
  });
  await s.rpc('put with revoked lease', (c) => c.kv.put({ key: b('k3'), value: b('v'), lease: 5 }), {
    fail: [S.NOT_FOUND, 'etcdserver: requested lease not found'],
  });
});

diffCase('grpc: Cluster membership errors and learners', async (s) => {
  const self = (await s.clients.maintenance.status({})).header!.memberId;
  await s.rpc('remove unknown member', (c) => c.cluster.memberRemove({ ID: 1 }), {
    fail: [S.NOT_FOUND, 'etcdserver: member not found'],
  });
  await s.rpc(
    'update unknown member',
    (c) => c.cluster.memberUpdate({ ID: 1, peerURLs: ['http://127.0.0.1:1'] }),
    {
      fail: [S.NOT_FOUND, 'etcdserver: member not found'],
    },
  );
  await s.rpc('add with a bad URL', (c) => c.cluster.memberAdd({ peerURLs: ['bad'] }), {
    fail: [S.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'],
  });
  await s.rpc('add with an existing peer URL', (c) => c.cluster.memberAdd({ peerURLs: [s.member.peerURL] }), {
    fail: [S.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'],
  });
  await s.rpc('promote unknown', (c) => c.cluster.memberPromote({ ID: 1 }), {
    fail: [S.NOT_FOUND, 'etcdserver: member not found'],
  });
  await s.rpc('promote a voter', (c) => c.cluster.memberPromote({ ID: self }), {
    fail: [S.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'],
  });
  await s.rpc('move leader to unknown', (c) => c.maintenance.moveLeader({ targetID: 1 }), {
    fail: [S.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'],
  });
  await s.rpc('move leader to self (no header in the answer)', (c) =>
    c.maintenance.moveLeader({ targetID: self }),
  );
  // A learner does not count for quorum, so adding one to a single member keeps it writable.
  const added = await s.rpc(
    'add a learner',
    (c) => c.cluster.memberAdd({ peerURLs: ['http://127.0.0.1:1'], isLearner: true }),
    { project: learnerView },
  );
  const learner = added.ok ? added.response.member!.ID : 0n;
  await s.rpc('list with the learner', (c) => c.cluster.memberList({}), { project: learnerView });
  await s.rpc('promote the unstarted learner', (c) => c.cluster.memberPromote({ ID: learner }), {
    fail: [
      S.FAILED_PRECONDITION,
      'etcdserver: can only promote a learner member which is in sync with leader',
    ],
  });
  await s.rpc('move leader to the learner', (c) => c.maintenance.moveLeader({ targetID: learner }), {
    fail: [S.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'],
  });
  await s.rpc('still writable', (c) => c.kv.put({ key: b('a'), value: b('1') }));
  await s.rpc('remove the learner', (c) => c.cluster.memberRemove({ ID: learner }), {
    project: learnerView,
  });
});

/** Member answers with random learner ids hidden and ports masked. */
function learnerView(v: unknown): unknown {
  const mask = (m: Record<string, unknown>) => ({
    ID: m.ID === '<member_id>' ? '<member_id>' : 'other',
    name: m.name,
    isLearner: m.isLearner,
    peerURLs: (m.peerURLs as string[]).map((u) => u.replace(/:\d+$/, ':<port>')),
    clientURLs: (m.clientURLs as string[]).map((u) => u.replace(/:\d+$/, ':<port>')),
  });
  const r = v as { header?: unknown; member?: Record<string, unknown>; members?: Record<string, unknown>[] };
  return {
    header: r.header,
    member: r.member ? mask(r.member) : undefined,
    members: (r.members ?? []).map(mask).sort((a, b) => Number(a.isLearner) - Number(b.isLearner)),
  };
}

diffCase('grpc: Maintenance alarms, defragment, hash errors, 3.5-only methods', async (s) => {
  await s.rpc('alarm get (none)', (c) => c.maintenance.alarm({}));
  await s.rpc('defragment (no header in the answer)', (c) => c.maintenance.defragment({}));
  await s.rpc('hashKV future', (c) => c.maintenance.hashKv({ revision: 99 }), {
    fail: [S.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'],
  });
  await s.rpc('activate NOSPACE for member 0', (c) =>
    c.maintenance.alarm({
      action: AlarmRequest_AlarmAction.ACTIVATE,
      memberID: 0,
      alarm: AlarmType.NOSPACE,
    }),
  );
  await s.rpc('alarm get', (c) => c.maintenance.alarm({}));
  await s.rpc('status lists the alarm', (c) => c.maintenance.status({}), {
    project: (v) => (v as { errors: unknown }).errors,
  });
  await s.rpc('put refused', (c) => c.kv.put({ key: b('a'), value: b('b') }), {
    fail: [S.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'],
  });
  await s.rpc('txn with put refused', (c) => c.kv.txn({ success: [{ requestPut: { key: b('a') } }] }), {
    fail: [S.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'],
  });
  await s.rpc('range still fine', (c) => c.kv.range({ key: b('a') }));
  await s.rpc('delete still fine', (c) => c.kv.deleteRange({ key: b('a') }));
  await s.rpc('deactivate', (c) =>
    c.maintenance.alarm({
      action: AlarmRequest_AlarmAction.DEACTIVATE,
      memberID: 0,
      alarm: AlarmType.NOSPACE,
    }),
  );
  await s.rpc('alarm get after deactivate', (c) => c.maintenance.alarm({}));
  await s.rpc('put works again', (c) => c.kv.put({ key: b('a'), value: b('b') }));
  await s.rpc('AuthStatus is 3.5', (c) => c.auth.authStatus({}), {
    fail: [S.UNIMPLEMENTED, 'unknown method AuthStatus for service etcdserverpb.Auth'],
  });
  await s.rpc('Downgrade is 3.5', (c) => c.maintenance.downgrade({}), {
    fail: [S.UNIMPLEMENTED, 'unknown method Downgrade for service etcdserverpb.Maintenance'],
  });
});

diffCase(
  'grpc: Auth users, roles, enable, tokens, permissions, disable',
  async (s) => {
    const FP = S.FAILED_PRECONDITION;
    await s.rpc('enable without root user', (c) => c.auth.authEnable({}), {
      fail: [FP, 'etcdserver: root user does not exist'],
    });
    await s.rpc('authenticate while disabled', (c) => c.auth.authenticate({ name: 'x', password: 'y' }), {
      fail: [FP, 'etcdserver: authentication is not enabled'],
    });
    await s.rpc('add root', (c) => c.auth.userAdd({ name: 'root', password: 'pw' }));
    await s.rpc('add root again', (c) => c.auth.userAdd({ name: 'root', password: 'pw' }), {
      fail: [FP, 'etcdserver: user name already exists'],
    });
    await s.rpc('add empty user name', (c) => c.auth.userAdd({ name: '' }), {
      fail: [S.INVALID_ARGUMENT, 'etcdserver: user name is empty'],
    });
    await s.rpc('enable without root role', (c) => c.auth.authEnable({}), {
      fail: [FP, 'etcdserver: root user does not have root role'],
    });
    await s.rpc('grant root role', (c) => c.auth.userGrantRole({ user: 'root', role: 'root' }));
    await s.rpc('grant unknown role', (c) => c.auth.userGrantRole({ user: 'root', role: 'nope' }), {
      fail: [FP, 'etcdserver: role name not found'],
    });
    await s.rpc('grant to unknown user', (c) => c.auth.userGrantRole({ user: 'nope', role: 'root' }), {
      fail: [FP, 'etcdserver: user name not found'],
    });
    await s.rpc('add role r', (c) => c.auth.roleAdd({ name: 'r' }));
    await s.rpc('add role r again', (c) => c.auth.roleAdd({ name: 'r' }), {
      fail: [FP, 'etcdserver: role name already exists'],
    });
    await s.rpc('add empty role name', (c) => c.auth.roleAdd({ name: '' }), {
      fail: [S.INVALID_ARGUMENT, 'etcdserver: role name is empty'],
    });
    await s.rpc('revoke a role not granted', (c) => c.auth.userRevokeRole({ name: 'root', role: 'r' }), {
      fail: [FP, 'etcdserver: role is not granted to the user'],
    });
    await s.rpc(
      'revoke a permission not granted',
      (c) => c.auth.roleRevokePermission({ role: 'r', key: b('k') }),
      {
        fail: [FP, 'etcdserver: permission is not granted to the role'],
      },
    );
    await s.rpc('grant r read on [a, c)', (c) =>
      c.auth.roleGrantPermission({ name: 'r', perm: { permType: 0, key: b('a'), rangeEnd: b('c') } }),
    );
    await s.rpc('role get r', (c) => c.auth.roleGet({ role: 'r' }));
    await s.rpc('role get root (implicit role)', (c) => c.auth.roleGet({ role: 'root' }), {
      fail: [FP, 'etcdserver: role name not found'],
    });
    await s.rpc('delete unknown user', (c) => c.auth.userDelete({ name: 'nope' }), {
      fail: [FP, 'etcdserver: user name not found'],
    });
    await s.rpc('delete unknown role', (c) => c.auth.roleDelete({ role: 'nope' }), {
      fail: [FP, 'etcdserver: role name not found'],
    });
    await s.rpc('add u', (c) => c.auth.userAdd({ name: 'u', password: 'p' }));
    await s.rpc('grant r to u', (c) => c.auth.userGrantRole({ user: 'u', role: 'r' }));
    await s.rpc('user list', (c) => c.auth.userList({}));
    await s.rpc('role list', (c) => c.auth.roleList({}));
    await s.rpc('enable', (c) => c.auth.authEnable({}));
    await s.rpc('enable again, without a token', (c) => c.auth.authEnable({}), {
      fail: [S.INVALID_ARGUMENT, 'etcdserver: user name is empty'],
    });
    await s.rpc('put without a token', (c) => c.kv.put({ key: b('a'), value: b('1') }), {
      fail: [S.INVALID_ARGUMENT, 'etcdserver: user name is empty'],
    });
    await s.rpc('bad password', (c) => c.auth.authenticate({ name: 'root', password: 'bad' }), {
      fail: [S.INVALID_ARGUMENT, 'etcdserver: authentication failed, invalid user ID or password'],
    });
    const root = await s.rpc('root logs in', (c) => c.auth.authenticate({ name: 'root', password: 'pw' }), {
      project: hide('token'),
    });
    const rootTok = root.ok ? root.response.token : '';
    const u = await s.rpc('u logs in', (c) => c.auth.authenticate({ name: 'u', password: 'p' }), {
      project: hide('token'),
    });
    const uTok = u.ok ? u.response.token : '';
    await s.rpc(
      'put with a garbage token',
      (c) => c.kv.put({ key: b('a'), value: b('1') }, { token: 'garbage' }),
      {
        fail: [S.UNAUTHENTICATED, 'etcdserver: invalid auth token'],
      },
    );
    await s.rpc('root puts a and c', (c) => c.kv.put({ key: b('a'), value: b('1') }, { token: rootTok }));
    await s.rpc('root puts c', (c) => c.kv.put({ key: b('c'), value: b('1') }, { token: rootTok }));
    await s.rpc('u reads a (granted)', (c) => c.kv.range({ key: b('a') }, { token: uTok }));
    await s.rpc('u reads [a, c) (granted)', (c) =>
      c.kv.range({ key: b('a'), rangeEnd: b('c') }, { token: uTok }),
    );
    await s.rpc('u reads c (not granted)', (c) => c.kv.range({ key: b('c') }, { token: uTok }), {
      fail: [S.PERMISSION_DENIED, 'etcdserver: permission denied'],
    });
    await s.rpc('u writes a (read only)', (c) => c.kv.put({ key: b('a'), value: b('2') }, { token: uTok }), {
      fail: [S.PERMISSION_DENIED, 'etcdserver: permission denied'],
    });
    await s.rpc('u lists users (admin only)', (c) => c.auth.userList({}, { token: uTok }), {
      fail: [S.PERMISSION_DENIED, 'etcdserver: permission denied'],
    });
    await s.rpc('delete root while enabled', (c) => c.auth.userDelete({ name: 'root' }, { token: rootTok }), {
      fail: [S.INVALID_ARGUMENT, 'etcdserver: invalid auth management'],
    });
    await s.rpc(
      'revoke root from root while enabled',
      (c) => c.auth.userRevokeRole({ name: 'root', role: 'root' }, { token: rootTok }),
      {
        fail: [S.INVALID_ARGUMENT, 'etcdserver: invalid auth management'],
      },
    );
    await s.rpc('disable', (c) => c.auth.authDisable({}, { token: rootTok }));
    await s.rpc('put without a token again', (c) => c.kv.put({ key: b('a'), value: b('3') }));
  },
  { flags: ['--bcrypt-cost', '4'] },
);
