/** The cluster half of the page: members, requests per second (uPlot), the leader timeline. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { ClusterState, MemberView } from '../api-types.js';
import { humanBytes } from './api.js';

const COLORS = ['#2563eb', '#16a34a', '#db2777', '#ea580c', '#7c3aed', '#0891b2', '#65a30d'];

function roleBadge(m: MemberView) {
  return <span class={`role role-${m.role}`}>{m.role}</span>;
}

export function Members({ state }: { state: ClusterState }) {
  return (
    <section class="card wide">
      <h2>Members</h2>
      <table class="members">
        <thead>
          <tr>
            <th>name</th>
            <th>id</th>
            <th>role</th>
            <th>term</th>
            <th>raft index</th>
            <th>applied</th>
            <th>db size</th>
            <th>in use</th>
            <th>req/s</th>
            <th>health</th>
            <th>alarms</th>
            <th>client URL</th>
          </tr>
        </thead>
        <tbody>
          {state.members.map((m) => (
            <tr key={m.id} data-member-id={m.id} data-role={m.role} class={m.reachable ? '' : 'down'}>
              <td>{m.name || '(unstarted)'}</td>
              <td class="mono">{m.id}</td>
              <td>{roleBadge(m)}</td>
              <td>{m.reachable ? m.term : '–'}</td>
              <td>{m.reachable ? m.raftIndex : '–'}</td>
              <td>{m.reachable ? m.appliedIndex : '–'}</td>
              <td>{m.reachable ? humanBytes(m.dbSize) : '–'}</td>
              <td>{m.reachable ? humanBytes(m.dbSizeInUse) : '–'}</td>
              <td class="num">{m.rps.toFixed(1)}</td>
              <td class={`clip ${m.health === 'healthy' ? 'ok' : 'bad'}`} data-health title={m.health}>
                {m.health}
              </td>
              <td>{m.alarms.join(', ') || '–'}</td>
              <td class="mono">{m.clientURL}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** Requests per second per member over time, one line each. */
export function RateChart({ state }: { state: ClusterState }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const ids = state.members.map((m) => m.id).join(',');
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: 220,
      series: [
        {},
        ...state.members.map((m, i) => ({
          label: m.name || m.id,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${v.toFixed(1)}/s`),
        })),
      ],
      axes: [{}, { label: 'requests/s', size: 60 }],
      scales: {
        // at least a minute wide, so the first points do not stretch the axis over years
        x: { time: true, range: (_u, min, max) => [Math.min(min, max - 60), max] },
        y: { range: (_u, _min, max) => [0, Math.max(5, max * 1.1)] },
      },
    };
    plot.current = new uPlot(opts, [[]], el);
    const onResize = () => plot.current?.setSize({ width: el.clientWidth, height: 220 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.current?.destroy();
      plot.current = undefined;
    };
    // the chart is rebuilt only when the set of members changes (ids)
  }, [ids]);
  useEffect(() => {
    const s = state.series;
    plot.current?.setData([s.t, ...state.members.map((m) => s.byMember[m.id] ?? s.t.map(() => 0))]);
  }, [state]);
  return (
    <section class="card">
      <h2>Requests per second, by member</h2>
      <div ref={box} class="chart" />
    </section>
  );
}

/** The last interval's requests per second by method (rows) and member (columns). */
export function MethodTable({ state }: { state: ClusterState }) {
  const methods = new Set<string>();
  for (const m of state.members) for (const k of Object.keys(m.rpsByMethod)) methods.add(k);
  const rows = [...methods].sort();
  return (
    <section class="card">
      <h2>Requests per second, by method</h2>
      {rows.length === 0 ? (
        <p class="muted">No requests in the last interval.</p>
      ) : (
        <table class="methods">
          <thead>
            <tr>
              <th>method</th>
              {state.members.map((m) => (
                <th key={m.id}>{m.name || m.id}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((k) => (
              <tr key={k} data-method={k}>
                <td>{k}</td>
                {state.members.map((m) => (
                  <td key={m.id} class="num">
                    {(m.rpsByMethod[k] ?? 0).toFixed(1)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Leader changes, elections and members going down or up: a strip (last 10 minutes) and a list. */
export function Timeline({ state }: { state: ClusterState }) {
  const spanMs = 10 * 60 * 1000;
  const end = state.at;
  const recent = state.timeline.filter((e) => e.at > end - spanMs);
  return (
    <section class="card wide">
      <h2>Timeline</h2>
      <div class="strip" title="last 10 minutes">
        {recent.map((e) => (
          <span
            key={`${e.at}-${e.kind}-${e.member}`}
            class={`mark mark-${e.kind}`}
            style={{ left: `${(100 * (e.at - (end - spanMs))) / spanMs}%` }}
            title={`${new Date(e.at).toLocaleTimeString()} ${e.text}`}
          />
        ))}
      </div>
      <ol class="timeline">
        {[...state.timeline]
          .reverse()
          .slice(0, 30)
          .map((e) => (
            <li key={`${e.at}-${e.kind}-${e.member}`} data-kind={e.kind}>
              <time>{new Date(e.at).toLocaleTimeString()}</time>{' '}
              <span class={`kind kind-${e.kind}`}>{e.kind}</span> {e.text}
            </li>
          ))}
      </ol>
    </section>
  );
}
