/**
 * `ClusterPoller`: every interval asks the cluster what it looks like, through the client API and
 * the members' /metrics only (no private backdoor): MemberList, each member's Status (role, term,
 * indexes, db size), the alarm list, and each member's /metrics (requests per method, leader
 * changes seen). From consecutive polls it derives requests per second and a timeline of leader
 * changes, elections and members going down or up.
 *
 * Bounds: TIMELINE_MAX events, SERIES_POINTS_MAX points per series; one poll at a time (a slow poll
 * delays the next, never stacks).
 */
import type { Clock, Timer } from '../pkg/index.js';
import { AlarmType, type Member, type StatusResponse } from '../proto/etcdserverpb/rpc.js';
import type { ClusterState, MemberView, TimelineEvent } from './api-types.js';
import { firstValue, parsePromText, sumBy } from './prom-text.js';
import { type CounterScrape, ratesBetween } from './rates.js';

/** Events kept on the timeline. */
export const TIMELINE_MAX = 200;
/** Points kept per requests-per-second series (5 minutes at the default 1 s). */
export const SERIES_POINTS_MAX = 300;

/** What a poll reads; the real one is a tsetcd/client plus HTTP(S) GETs of /metrics. */
export interface PollerHost {
  members(): Promise<{ clusterId: bigint; members: Member[] }>;
  status(clientURL: string): Promise<StatusResponse>;
  alarms(): Promise<{ memberID: bigint; alarm: AlarmType }[]>;
  /** The text of `<clientURL>/metrics`. */
  scrape(clientURL: string): Promise<string>;
  clock: Clock;
}

export function hexId(id: bigint): string {
  return id.toString(16);
}

function alarmName(a: AlarmType): string {
  return AlarmType[a] ?? `ALARM_${a}`;
}

interface Seen {
  leader: string;
  term: bigint;
  reachable: Map<string, boolean>;
}

export class ClusterPoller {
  private state: ClusterState;
  private readonly scrapes = new Map<string, CounterScrape>();
  private readonly seen: Seen = { leader: '', term: 0n, reachable: new Map() };
  private timer: Timer | undefined;
  private polling: Promise<void> | undefined;
  private readonly listeners = new Set<(s: ClusterState) => void>();

  constructor(
    private readonly host: PollerHost,
    writesEnabled: boolean,
  ) {
    this.state = {
      at: host.clock.wallNow(),
      clusterId: '',
      leader: '',
      revision: '0',
      members: [],
      timeline: [],
      series: { t: [], byMember: {} },
      writesEnabled,
      error: 'not polled yet',
    };
  }

  /** The latest state (the same object until the next poll replaces it). */
  current(): ClusterState {
    return this.state;
  }

  /** Calls `fn` after every poll until the returned function is called. */
  subscribe(fn: (s: ClusterState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Polls now and then every `intervalMs`. */
  start(intervalMs: number): void {
    void this.poll();
    this.timer = this.host.clock.setInterval(() => void this.poll(), intervalMs);
  }

  stop(): void {
    this.timer?.clear();
    this.timer = undefined;
  }

  /** One poll; concurrent calls share the poll in flight. */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const at = this.host.clock.wallNow();
    let list: Awaited<ReturnType<PollerHost['members']>>;
    try {
      list = await this.host.members();
    } catch (e) {
      this.publish({ ...this.state, at, error: `member list: ${(e as Error).message}` });
      return;
    }
    const alarms = await this.host.alarms().catch(() => []);
    const polled = await Promise.all(list.members.map((m) => this.viewOf(m, alarms)));
    const views = polled.map((p) => p.view);
    let revision = 0n;
    for (const p of polled) if (p.revision > revision) revision = p.revision;
    const events: TimelineEvent[] = [];
    this.noteReachability(views, at, events);
    const leader = this.noteLeader(polled, at, events);
    const timeline = [...this.state.timeline, ...events].slice(-TIMELINE_MAX);
    const series = this.extendSeries(at, views);
    this.publish({
      at,
      clusterId: hexId(list.clusterId),
      leader,
      revision: revision.toString(),
      members: views,
      timeline,
      series,
      writesEnabled: this.state.writesEnabled,
      error: '',
    });
  }

  private publish(s: ClusterState): void {
    this.state = s;
    for (const fn of this.listeners) fn(s);
  }

  /** The member's view, and the leader it reports ('0' for none or unreachable). */
  private async viewOf(
    m: Member,
    alarms: { memberID: bigint; alarm: AlarmType }[],
  ): Promise<{ view: MemberView; leaderOf: string; revision: bigint }> {
    const id = hexId(m.ID);
    const url = m.clientURLs[0] ?? '';
    const mine = alarms.filter((a) => a.memberID === m.ID).map((a) => alarmName(a.alarm));
    const view: MemberView = {
      id,
      name: m.name,
      clientURL: url,
      isLearner: m.isLearner,
      role: 'unknown',
      reachable: false,
      health: url === '' ? 'not started' : 'unreachable',
      version: '',
      term: '0',
      raftIndex: '0',
      appliedIndex: '0',
      dbSize: 0,
      dbSizeInUse: 0,
      alarms: mine,
      errors: [],
      rps: 0,
      rpsByMethod: {},
      leaderChangesSeen: 0,
    };
    let leaderOf = '0';
    let revision = 0n;
    if (url === '') return { view, leaderOf, revision };
    const [st, metrics] = await Promise.allSettled([this.host.status(url), this.host.scrape(url)]);
    if (st.status === 'fulfilled') {
      const s = st.value;
      view.reachable = true;
      view.version = s.version;
      view.term = s.raftTerm.toString();
      view.raftIndex = s.raftIndex.toString();
      view.appliedIndex = s.raftAppliedIndex.toString();
      view.dbSize = Number(s.dbSize);
      view.dbSizeInUse = Number(s.dbSizeInUse);
      view.errors = s.errors;
      view.role = s.isLearner ? 'learner' : s.leader === m.ID ? 'leader' : 'follower';
      view.health =
        mine.length > 0
          ? `alarm: ${mine.join(', ')}`
          : s.leader === 0n
            ? 'no leader'
            : s.errors.length > 0
              ? s.errors.join('; ')
              : 'healthy';
      leaderOf = hexId(s.leader);
      revision = s.header?.revision ?? 0n;
    } else {
      view.health = `unreachable: ${(st.reason as Error).message}`;
    }
    if (metrics.status === 'fulfilled') {
      const samples = parsePromText(metrics.value);
      const next: CounterScrape = {
        atMs: this.host.clock.now(),
        counts: sumBy(samples, 'grpc_server_handled_total', 'grpc_method'),
      };
      const prev = this.scrapes.get(id);
      if (prev) {
        const r = ratesBetween(prev, next);
        view.rps = r.total;
        view.rpsByMethod = r.byKey;
      }
      this.scrapes.set(id, next);
      view.leaderChangesSeen = firstValue(samples, 'etcd_server_leader_changes_seen_total') ?? 0;
    } else {
      this.scrapes.delete(id);
    }
    return { view, leaderOf, revision };
  }

  private noteReachability(views: MemberView[], at: number, events: TimelineEvent[]): void {
    for (const v of views) {
      const before = this.seen.reachable.get(v.id);
      if (before !== undefined && before !== v.reachable) {
        const name = v.name || v.id;
        events.push({
          at,
          kind: v.reachable ? 'member-up' : 'member-down',
          term: v.term,
          member: v.id,
          text: v.reachable ? `${name} answers again` : `${name} stopped answering`,
        });
      }
      this.seen.reachable.set(v.id, v.reachable);
    }
  }

  /** The leader reported with the highest term; records leader changes and elections. */
  private noteLeader(
    polled: { view: MemberView; leaderOf: string }[],
    at: number,
    events: TimelineEvent[],
  ): string {
    let term = -1n;
    let leader = '';
    for (const { view: v, leaderOf: l } of polled) {
      if (!v.reachable) continue;
      const t = BigInt(v.term);
      if (t > term || (t === term && leader === '' && l !== '0')) {
        term = t;
        leader = l === '0' ? '' : l;
      }
    }
    if (term < 0n) return this.seen.leader;
    const nameOf = (id: string) => polled.find((p) => p.view.id === id)?.view.name || id;
    if (leader !== this.seen.leader) {
      events.push(
        leader === ''
          ? { at, kind: 'no-leader', term: term.toString(), member: '', text: `no leader (term ${term})` }
          : {
              at,
              kind: 'leader',
              term: term.toString(),
              member: leader,
              text: `${nameOf(leader)} leads (term ${term})`,
            },
      );
    } else if (term > this.seen.term && this.seen.term !== 0n) {
      events.push({
        at,
        kind: 'election',
        term: term.toString(),
        member: leader,
        text: `election: term ${this.seen.term} → ${term}, ${nameOf(leader) || 'no one'} leads`,
      });
    }
    this.seen.leader = leader;
    this.seen.term = term;
    return leader;
  }

  private extendSeries(at: number, views: MemberView[]): ClusterState['series'] {
    const old = this.state.series;
    const t = [...old.t, at / 1000].slice(-SERIES_POINTS_MAX);
    const byMember: Record<string, number[]> = {};
    const n = old.t.length;
    for (const v of views) {
      const prev = old.byMember[v.id] ?? new Array<number>(n).fill(0);
      byMember[v.id] = [...prev, v.rps].slice(-SERIES_POINTS_MAX);
    }
    return { t, byMember };
  }
}
