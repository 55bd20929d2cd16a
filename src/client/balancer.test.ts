/**
 * Goal: the client's balancing, without sockets. Method: our address-book resolver and the service
 * config the client sets (`serviceConfigFor`) are fed to grpc-js's own ResolvingLoadBalancer, whose
 * subchannels are fakes whose connectivity the test drives; we then read the pickers grpc-js
 * publishes. This checks the whole chain a Client uses — book → resolver → service config →
 * round_robin / pick_first → picker — and that book changes (membership) reach the policy live.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChannelOptions, connectivityState as CS, experimental, Metadata } from '@grpc/grpc-js';
import { ResolvingLoadBalancer } from '@grpc/grpc-js/build/src/resolving-load-balancer.js';
import { serviceConfigFor } from './connection.js';
import { AddressBook, type BookView, registerBookResolver } from './endpoints.js';
import type { LbPolicy } from './options.js';

type Listener = experimental.ConnectivityStateListener;

class FakeSubchannel {
  state = CS.IDLE;
  connects = 0;
  refs = 0;
  private readonly listeners = new Set<Listener>();
  private readonly health = new Set<(h: boolean) => void>();
  constructor(readonly address: string) {}
  getConnectivityState() {
    return this.state;
  }
  addConnectivityStateListener(l: Listener) {
    this.listeners.add(l);
  }
  removeConnectivityStateListener(l: Listener) {
    this.listeners.delete(l);
  }
  startConnecting() {
    this.connects++;
    if (this.state === CS.IDLE) this.set(CS.CONNECTING);
  }
  getAddress() {
    return this.address;
  }
  throttleKeepalive() {}
  ref() {
    this.refs++;
  }
  unref() {
    this.refs--;
  }
  getChannelzRef() {
    return { kind: 'subchannel', id: 0, name: this.address } as never;
  }
  isHealthy() {
    return true;
  }
  addHealthStateWatcher(l: (h: boolean) => void) {
    this.health.add(l);
  }
  removeHealthStateWatcher(l: (h: boolean) => void) {
    this.health.delete(l);
  }
  addDataWatcher() {}
  getRealSubchannel() {
    return this as never;
  }
  realSubchannelEquals(o: { getRealSubchannel(): unknown }) {
    return o.getRealSubchannel() === this;
  }
  getCallCredentials() {
    return undefined as never;
  }
  getChannel() {
    return undefined as never;
  }
  /** The test's hand on the connection. */
  set(s: CS) {
    const prev = this.state;
    this.state = s;
    for (const l of [...this.listeners]) l(this as never, prev, s, 0);
  }
}

/** Lets the resolver's nextTick reports and the policies' reactions run (no timers involved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

function harness(policy: LbPolicy, book: AddressBook, view: BookView = 'voters') {
  registerBookResolver();
  const subchannels = new Map<string, FakeSubchannel>();
  let picker: experimental.Picker | undefined;
  let state = CS.IDLE;
  const helper = {
    createSubchannel: (addr: { host?: string; port?: number }) => {
      // As grpc-js's subchannel pool does: one subchannel per address, shared by whoever asks.
      const key = `${addr.host}:${addr.port}`;
      let s = subchannels.get(key);
      if (s === undefined) {
        s = new FakeSubchannel(key);
        subchannels.set(key, s);
      }
      return s as never;
    },
    updateState: (s: CS, p: experimental.Picker) => {
      state = s;
      picker = p;
    },
    requestReresolution: () => {},
    addChannelzChild: () => {},
    removeChannelzChild: () => {},
  };
  const options: ChannelOptions = { 'grpc.service_config': serviceConfigFor(policy) };
  const uri = { scheme: 'tsetcd-book', authority: '', path: `${book.id}/${view}` };
  const lb = new ResolvingLoadBalancer(
    uri,
    helper as never,
    options,
    () => {},
    () => {},
  );
  lb.exitIdle();
  /** `n` picks; the address each went to ('' when the pick did not complete). */
  const picks = (n: number): string[] =>
    Array.from({ length: n }, () => {
      const r = picker!.pick({ metadata: new Metadata(), extraPickInfo: {} });
      return r.pickResultType === experimental.PickResultType.COMPLETE
        ? (r.subchannel!.getAddress() ?? '')
        : '';
    });
  return { lb, subchannels, picks, state: () => state, sub: (a: string) => subchannels.get(a)! };
}

const A = { host: '10.0.0.1', port: 2379 };
const B = { host: '10.0.0.2', port: 2379 };
const C = { host: '10.0.0.3', port: 2379 };
const D = { host: '10.0.0.4', port: 2379 };

function count(picks: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of picks) out[p] = (out[p] ?? 0) + 1;
  return out;
}

test('round_robin: every member connected at once, picks rotate evenly', async () => {
  const book = new AddressBook([A, B, C]);
  const h = harness('round_robin', book);
  await settle();
  assert.deepEqual([...h.subchannels.keys()].sort(), ['10.0.0.1:2379', '10.0.0.2:2379', '10.0.0.3:2379']);
  for (const s of h.subchannels.values()) assert.ok(s.connects >= 1, `${s.address} asked to connect`);
  for (const s of h.subchannels.values()) s.set(CS.READY);
  await settle();
  assert.equal(h.state(), CS.READY);
  const p = h.picks(300);
  assert.deepEqual(count(p), { '10.0.0.1:2379': 100, '10.0.0.2:2379': 100, '10.0.0.3:2379': 100 });
  // strictly cyclic: no member twice in a row
  for (let i = 1; i < p.length; i++) assert.notEqual(p[i], p[i - 1]);
  // one member fails: the others share its traffic
  h.sub('10.0.0.2:2379').set(CS.TRANSIENT_FAILURE);
  await settle();
  assert.deepEqual(count(h.picks(100)), { '10.0.0.1:2379': 50, '10.0.0.3:2379': 50 });
  h.lb.destroy();
  book.close();
});

test('pick_first: one member gets every pick; when it fails the next one does', async () => {
  const book = new AddressBook([A, B, C]);
  const h = harness('pick_first', book);
  await settle();
  const first = h.sub('10.0.0.1:2379');
  assert.ok(first.connects >= 1);
  assert.equal(
    h.sub('10.0.0.2:2379')?.connects ?? 0,
    0,
    'pick_first tries the others only after the first fails',
  );
  first.set(CS.READY);
  await settle();
  assert.deepEqual(count(h.picks(300)), { '10.0.0.1:2379': 300 });
  // The pinned member dies: the connection drops, reconnecting to it fails, the next address is used.
  first.set(CS.IDLE);
  await settle();
  h.picks(1); // a pick while idle makes the policy connect again
  await settle();
  first.set(CS.TRANSIENT_FAILURE);
  await settle();
  const second = h.sub('10.0.0.2:2379');
  assert.ok(second.connects >= 1, 'moved on to the second address');
  second.set(CS.READY);
  await settle();
  assert.deepEqual(count(h.picks(300)), { '10.0.0.2:2379': 300 });
  h.lb.destroy();
  book.close();
});

test('round_robin follows the address book live: an added member gets picks, a removed one none', async () => {
  const book = new AddressBook([A, B, C]);
  const h = harness('round_robin', book);
  await settle();
  for (const s of h.subchannels.values()) s.set(CS.READY);
  await settle();
  assert.equal(book.set([A, B, C, D]), true);
  await settle();
  const d = h.sub('10.0.0.4:2379');
  assert.ok(d, 'a subchannel for the new member');
  d.set(CS.READY);
  await settle();
  assert.deepEqual(count(h.picks(400)), {
    '10.0.0.1:2379': 100,
    '10.0.0.2:2379': 100,
    '10.0.0.3:2379': 100,
    '10.0.0.4:2379': 100,
  });
  book.set([A, C, D]);
  await settle();
  assert.deepEqual(count(h.picks(300)), { '10.0.0.1:2379': 100, '10.0.0.3:2379': 100, '10.0.0.4:2379': 100 });
  assert.equal(book.set([A, C, D]), false, 'the same list is no change');
  h.lb.destroy();
  book.close();
});

test('learners: only in the "all" view (serializable reads), never in "voters"', async () => {
  const book = new AddressBook([A, B, { ...C, learner: true }]);
  assert.deepEqual(
    book.list('voters').map((a) => a.host),
    ['10.0.0.1', '10.0.0.2'],
  );
  const voters = harness('round_robin', book, 'voters');
  const all = harness('round_robin', book, 'all');
  await settle();
  assert.deepEqual([...voters.subchannels.keys()].sort(), ['10.0.0.1:2379', '10.0.0.2:2379']);
  assert.deepEqual([...all.subchannels.keys()].sort(), ['10.0.0.1:2379', '10.0.0.2:2379', '10.0.0.3:2379']);
  voters.lb.destroy();
  all.lb.destroy();
  book.close();
});
