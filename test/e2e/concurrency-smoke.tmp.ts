import { b, connect, startMember } from '../helpers/index.js';
const m = await startMember('tsetcd');
try {
  const c = connect(m.endpoint);
  const g = await c.lease.leaseGrant({ TTL: 10n });
  const l = await c.lock.lock({ name: b('mylock'), lease: g.ID });
  console.log('lock', l.key.toString(), l.header?.revision);
  const g2 = await c.lease.leaseGrant({ TTL: 10n });
  const p = c.lock.lock({ name: b('mylock'), lease: g2.ID });
  await new Promise((r) => setTimeout(r, 300));
  await c.lock.unlock({ key: l.key });
  const l2 = await p;
  console.log('lock2', l2.key.toString(), l2.header?.revision);
  console.log(await c.election.leader({ name: b('e') }).catch((e) => [e.code, e.details]));
  const cp = await c.election.campaign({ name: b('e'), lease: g.ID, value: b('v1') });
  console.log('campaign', cp.leader, cp.header?.revision);
  console.log(await c.election.proclaim({ leader: cp.leader, value: b('v2') }));
  console.log((await c.election.leader({ name: b('e') })).kv);
  console.log(await c.election.resign({ leader: cp.leader }));
  console.log(await c.election.proclaim({ leader: cp.leader, value: b('v3') }).catch((e) => [e.code, e.details]));
  c.close();
} finally { await m.cleanup(); }
