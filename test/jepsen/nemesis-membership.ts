/**
 * Membership changes as nemesis faults, as etcd's robustness suite does them: while the other
 * nemesis kinds partition, kill and pause members, this one removes, adds, promotes and replaces
 * members through the Cluster API. Kinds (the `membership` group of nemesis.ts):
 *
 * - `member-replace`: MemberRemove a member of a slot (the leader half the time); once the removal
 *   committed its process is gone (it stops itself, or is killed), then a fresh member (new name,
 *   ports and empty data dir) is added as a voter into the slot and started with
 *   `--initial-cluster-state existing`.
 * - `member-replace-learner`: the same, but the fresh member is added as a learner, started, and
 *   promoted once it is in sync (MemberPromote retried on "can only promote a learner member which
 *   is in sync with leader").
 * - `member-grow-shrink`: a fourth member is added as a learner, started, promoted to a voter (four
 *   voters, quorum three), then removed again.
 * - `member-remove-stale`: a member is killed, removed while it is down, and its old process is
 *   started again on (a copy of) its old data dir: a member that missed its own removal. It must learn from its
 *   peers that it was removed ("the member has been permanently removed from the cluster", etcd's
 *   rafthttp errMemberRemoved), and no write or linearizable read through it may succeed
 *   (`RemovedCheck`); then the slot gets a fresh member as in `member-replace`.
 *
 * Every step retries until it takes effect (a concurrent fault may hold the quorum away); a step
 * that cannot finish within STEP_HEAL_AFTER_MS clears the network failpoints (the operator heals
 * the network to finish the change) and keeps trying up to STEP_TIMEOUT_MS.
 *
 * Slots keep their index: the workload's clients pinned to a slot reconnect to whoever holds it
 * (ClusterMember is updated in place: name, ports, data dir, id; incarnation bumped).
 */
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MemberListResponse } from '../../src/proto/etcdserverpb/rpc.js';
import { kill as killProc, launch, type Proc, planMember, running } from '../helpers/cluster.js';
import { connect, freePort, waitFor } from '../helpers/index.js';
import type { RemovedMemberRecord } from './checkers/membership.js';
import type { Cluster, ClusterMember } from './cluster.js';
import type { Rng } from './rng.js';
import { now } from './workload.js';

export const MEMBERSHIP_FAULTS = [
  'member-replace',
  'member-replace-learner',
  'member-grow-shrink',
  'member-remove-stale',
];

/** etcd's text for a member that learns from its peers that it was removed (rafthttp errMemberRemoved). */
export const MEMBER_REMOVED_TEXT = 'the member has been permanently removed from the cluster';

/** One membership change the nemesis made (acknowledged by the cluster). */
export interface MembershipChange {
  type: 'add-voter' | 'add-learner' | 'promote' | 'remove';
  /** Member id, decimal. */
  id: string;
  name: string;
  at: number;
}

/** What a member that missed its own removal did once restarted (see `member-remove-stale`). */
export type RemovedCheck = RemovedMemberRecord;

/** Time a step may take before the network failpoints are cleared to let it finish. */
const STEP_HEAL_AFTER_MS = 15_000;
/** Time a step may take at all. */
const STEP_TIMEOUT_MS = 90_000;
const CALL_DEADLINE_MS = 3_000;
/** How long a restarted removed member is watched. */
const REMOVED_WATCH_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class MembershipNemesis {
  readonly changes: MembershipChange[] = [];
  readonly removedChecks: RemovedCheck[] = [];
  /** Processes outside the slots (a fourth member, a restarted removed member); killed by `cleanup`. */
  private readonly extras: Proc[] = [];
  private serial = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Rng,
    /** The current leader (nemesis.ts), or any member when none is known. */
    private readonly leader: () => Promise<ClusterMember>,
  ) {}

  /** Every member process that may currently be in the cluster (slots and extras). */
  processes(): Proc[] {
    return [...this.cluster.members, ...this.extras];
  }

  async inject(kind: string): Promise<string> {
    switch (kind) {
      case 'member-replace':
      case 'member-replace-learner': {
        const m = this.rng.next() < 0.5 ? await this.leader() : this.rng.pick(this.cluster.members);
        const old = `${m.name} (${BigInt(m.id).toString(16)})`;
        await this.remove(m);
        await this.cluster.kill(m);
        const learner = kind === 'member-replace-learner';
        await this.replace(m, learner);
        return `removed ${old}, added ${m.name} (${BigInt(m.id).toString(16)}) as ${learner ? 'learner, promoted' : 'voter'}`;
      }
      case 'member-grow-shrink': {
        const p = await this.addFresh(true, undefined);
        await this.promote(p.id, p.name);
        await this.remove({ id: p.id, name: p.name });
        await killProc(p);
        return `added ${p.name} as learner, promoted, removed`;
      }
      case 'member-remove-stale': {
        const m = this.rng.pick(this.cluster.members);
        const old = { ...m, log: '' } as ClusterMember;
        // Its data as it went down, copied while no process runs on it (a concurrent fault may
        // restart the slot): the restarted removed member runs on the copy, never beside the slot.
        while (this.cluster.alive(m)) await this.cluster.kill(m);
        old.dataDir = `${m.dataDir}-stale`;
        cpSync(m.dataDir, old.dataDir, { recursive: true });
        await this.remove(m);
        const check = await this.watchRemoved(old);
        this.removedChecks.push(check);
        await this.replace(m, this.rng.next() < 0.5);
        return `killed ${old.name}, removed it while down, restarted it: ${check.detail}; slot now ${m.name}`;
      }
      default:
        throw new Error(`unknown membership fault ${kind}`);
    }
  }

  /** Kills the processes outside the slots. */
  async cleanup(): Promise<void> {
    await Promise.all(this.extras.map((p) => killProc(p)));
  }

  /**
   * Runs `fn` through some live member until it succeeds or `done()` says it took effect anyway
   * (an earlier attempt whose answer was lost). Clears the network failpoints after
   * STEP_HEAL_AFTER_MS. Errors that say the change can never succeed are thrown.
   */
  private async retry<T>(
    what: string,
    fn: (c: ReturnType<typeof connect>) => Promise<T>,
    done?: (ml: MemberListResponse) => boolean,
  ): Promise<T | undefined> {
    const start = now();
    let healed = false;
    let last = '';
    for (;;) {
      if (!healed && now() - start > STEP_HEAL_AFTER_MS) {
        healed = true;
        await this.cluster.failpointAll('/reset');
      }
      if (now() - start > STEP_TIMEOUT_MS)
        throw new Error(`${what}: gave up after ${STEP_TIMEOUT_MS} ms (${last})`);
      for (const m of this.processes()) {
        if (!running(m) || (m as Partial<ClusterMember>).paused) continue;
        const c = connect(m.client);
        try {
          if (done) {
            const ml = await c.cluster.memberList({}, { deadlineMs: CALL_DEADLINE_MS });
            if (done(ml)) return undefined;
          }
          return await fn(c);
        } catch (e) {
          last = `${m.name}: ${(e as { details?: string }).details ?? (e as Error).message}`;
        } finally {
          c.close();
        }
      }
      await sleep(250);
    }
  }

  private async remove(m: { id: string; name: string }): Promise<void> {
    const id = BigInt(m.id);
    await this.retry(
      `remove ${m.name}`,
      (c) => c.cluster.memberRemove({ ID: id }, { deadlineMs: CALL_DEADLINE_MS }),
      // done when a live member's linearizable list no longer has it (MemberList is served locally,
      // so only a majority's view counts: every running member must agree)
      (ml) => !ml.members.some((x) => x.ID === id),
    );
    // Every running member of the cluster applied it (so the next change is not refused as unhealthy).
    this.changes.push({ type: 'remove', id: m.id, name: m.name, at: now() });
  }

  private async promote(id: string, name: string): Promise<void> {
    const bid = BigInt(id);
    await this.retry(
      `promote ${name}`,
      (c) => c.cluster.memberPromote({ ID: bid }, { deadlineMs: CALL_DEADLINE_MS }),
      (ml) => ml.members.some((x) => x.ID === bid && !x.isLearner),
    );
    this.changes.push({ type: 'promote', id, name, at: now() });
  }

  /**
   * MemberAdd of a fresh member (new ports, empty data dir next to the others), then its process,
   * started to join; resolves once it is healthy. `slot` gives it the slot's failpoint address.
   */
  private async addFresh(learner: boolean, slot: ClusterMember | undefined): Promise<Proc & { id: string }> {
    const n = ++this.serial;
    const name = slot ? `j${slot.index + 1}r${n}` : `jx${n}`;
    const root = dirname(this.cluster.members[0]!.dataDir);
    const [client, peer] = [await freePort(), await freePort()];
    const peerUrl = `http://127.0.0.1:${peer}`;
    let added: { id: bigint; members: { name: string; peerURLs: string[]; ID: bigint }[] } | undefined;
    await this.retry(
      `add ${name}`,
      async (c) => {
        const r = await c.cluster.memberAdd(
          { peerURLs: [peerUrl], isLearner: learner },
          { deadlineMs: CALL_DEADLINE_MS },
        );
        added = { id: r.member!.ID, members: r.members };
      },
      // an earlier attempt whose answer was lost may have added it: never add the URL twice
      (ml) => {
        const x = ml.members.find((y) => y.peerURLs.includes(peerUrl));
        if (x) added = { id: x.ID, members: ml.members };
        return x !== undefined;
      },
    );
    if (!added) throw new Error(`add ${name}: no answer`);
    const id = added.id.toString();
    this.changes.push({ type: learner ? 'add-learner' : 'add-voter', id, name, at: now() });
    const initialCluster = added.members
      .map((x) => `${x.ID === added!.id ? name : x.name || `u${x.ID.toString(16)}`}=${x.peerURLs[0]}`)
      .join(',');
    const p = Object.assign(
      planMember({
        name,
        dataDir: join(root, name),
        client: `127.0.0.1:${client}`,
        peer: peerUrl,
        initialCluster,
        token: 'jepsen',
        extraFlags: ['--log-level', 'warn', '--initial-cluster-state', 'existing', ...this.sharedFlags()],
        env: slot ? { ...slot.env } : {},
      }),
      { id },
    );
    if (slot) {
      await this.takeOver(slot, p);
    } else {
      this.extras.push(p);
      launch(p);
    }
    await this.cluster.waitHealthy(slot ?? (p as ClusterMember));
    return p;
  }

  /**
   * The slot takes the new process over, so clients pinned to the slot reconnect to it and the
   * other faults act on it. Whatever the slot runs now (a concurrent fault may have restarted the
   * removed member) is killed first; launching and assigning happen in one turn, so no other fault
   * can act on the slot in between.
   */
  private async takeOver(slot: ClusterMember, p: Proc & { id: string }): Promise<void> {
    while (this.cluster.alive(slot)) await this.cluster.kill(slot);
    Object.assign(slot, {
      name: p.name,
      client: p.client,
      peer: p.peer,
      dataDir: p.dataDir,
      args: p.args,
      env: p.env,
      log: '',
      id: p.id,
      incarnation: slot.incarnation + 1,
      paused: false,
    });
    launch(slot);
  }

  /** The flags every member of the run has beyond the standard ones (snapshot count, ...). */
  private sharedFlags(): string[] {
    const a = this.cluster.members[0]!.args;
    const i = a.indexOf('--snapshot-count');
    return i >= 0 ? a.slice(i, i + 2) : [];
  }

  /** Puts a fresh member (voter, or learner then promoted) into the slot of a removed one. */
  private async replace(slot: ClusterMember, learner: boolean): Promise<void> {
    const p = await this.addFresh(learner, slot);
    if (learner) await this.promote(p.id, p.name);
  }

  /**
   * Starts a removed member's old process again (on its old data dir, no failpoints) and watches it:
   * it must learn that it was removed, and nothing may succeed through it.
   */
  private async watchRemoved(old: ClusterMember): Promise<RemovedCheck> {
    // Its old data dir and member id, but new listen ports (the slot's stay with the slot) and no
    // failpoint server; peers know a member by the id it sends, not by its address.
    const [client, peer] = [await freePort(), await freePort()];
    const args = [...old.args];
    args[args.indexOf('--data-dir') + 1] = old.dataDir;
    for (const [flag, url] of [
      ['--listen-client-urls', `http://127.0.0.1:${client}`],
      ['--advertise-client-urls', `http://127.0.0.1:${client}`],
      ['--listen-peer-urls', `http://127.0.0.1:${peer}`],
    ] as const) {
      const i = args.indexOf(flag);
      if (i >= 0) args[i + 1] = url;
    }
    const p: Proc = { ...old, args, client: `127.0.0.1:${client}`, env: {}, log: '', child: undefined };
    this.extras.push(p);
    launch(p);
    const check: RemovedCheck = {
      name: old.name,
      id: old.id,
      toldRemoved: false,
      tried: 0,
      succeeded: 0,
      exited: false,
      detail: '',
    };
    const c = connect(p.client);
    const end = now() + REMOVED_WATCH_MS;
    try {
      while (now() < end && running(p)) {
        check.tried++;
        try {
          if (check.tried % 2 === 0)
            await c.kv.range({ key: Buffer.from('/jepsen/k/0') }, { deadlineMs: 1000 });
          else
            await c.kv.put(
              { key: Buffer.from('/jepsen/removed'), value: Buffer.from(old.name) },
              { deadlineMs: 1000 },
            );
          check.succeeded++;
        } catch {
          // refused or timed out: what a removed member must do
        }
        if (p.log.includes(MEMBER_REMOVED_TEXT)) {
          check.toldRemoved = true;
          if (check.tried >= 4) break;
        }
        await sleep(100);
      }
      await waitFor(() => !running(p) || now() > end, { timeoutMs: REMOVED_WATCH_MS + 5000 }).catch(() => {});
      check.exited = !running(p);
      check.toldRemoved ||= p.log.includes(MEMBER_REMOVED_TEXT);
    } finally {
      c.close();
      await killProc(p);
    }
    check.detail = `${check.toldRemoved ? 'told it was removed' : 'NOT told it was removed'}, ${check.succeeded}/${check.tried} requests through it succeeded, ${check.exited ? 'exited' : 'still running'}`;
    return check;
  }
}
