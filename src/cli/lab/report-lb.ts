/**
 * `tsetcd lab lb`'s output: a table (mode, member, requests, packets, share, p99), terminal bars,
 * one line per scenario, and a timeline of each member's share per second; the same as a
 * self-contained HTML page (inline SVG, no script, no CDN).
 */
import { renderTable } from '../ui/index.js';
import type { ScenarioResult } from './kube.js';
import type { LbPolicyResult, LbResult } from './lb.js';
import { BAR_CELLS_MAX, bar, esc, pct, svgBars } from './report.js';

/** Terminal glyphs of members 1..n in a timeline row; '×' marks failed Puts. */
const TIMELINE_GLYPHS = ['█', '▓', '▒', '░', '▚', '▞'];
/** Cells of one terminal timeline row. */
const TIMELINE_CELLS = 40;
/** Colours of members 1..n in the HTML timeline; failures red. */
const TIMELINE_COLOURS = ['#3b78c4', '#e8a33d', '#5aa469', '#9b59b6', '#7f8c8d', '#c0392b'];
const FAILURE_COLOUR = '#d62728';

function ms(v: number | null): string {
  return v === null ? '-' : v.toFixed(1);
}

/** The table plus, per mode, bars, scenario lines and the share timeline, as the terminal shows them. */
export function renderLbText(r: LbResult): string {
  const table = renderTable({
    header: ['MODE', 'MEMBER', 'ENDPOINT', 'REQUESTS', 'PACKETS', 'SHARE', 'P50 MS', 'P99 MS'],
    rows: r.policies.flatMap((p) =>
      p.members.map((m) => [
        p.policy,
        m.member,
        m.endpoint,
        String(m.requests),
        m.packets === null ? '-' : String(m.packets),
        pct(m.share, 1),
        ms(m.latencyMsP50),
        ms(m.latencyMsP99),
      ]),
    ),
    align: ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
  });
  const charts = r.policies.map((p) => {
    const max = Math.max(...p.members.map((m) => m.requests));
    const lines = [
      `${p.policy} (${p.target}) — ${p.requests} Puts${p.failures > 0 ? ` (${p.failures} failed)` : ''}, p50 ${ms(p.latencyMsP50)} ms, p99 ${ms(p.latencyMsP99)} ms${p.dnsQueries !== undefined ? `, ${dnsLine(p.dnsQueries)}` : ''}`,
      ...p.members.map(
        (m) =>
          `  ${m.member} ${m.endpoint.padEnd(16)} ${bar(m.requests, max).padEnd(BAR_CELLS_MAX)} ${String(m.requests).padStart(5)}  ${pct(m.share, 1).padStart(4)}`,
      ),
      ...scenarioLines(p).map((l) => `  ${l}`),
      timelineText(p),
    ];
    return lines.join('\n');
  });
  const notes = [...(r.packetsNote ? [r.packetsNote] : []), ...(r.notes ?? [])];
  return `${table}${notes.map((n) => `(${n})\n`).join('')}\n${charts.join('\n\n')}\n`;
}

/** The DNS queries of a dns:/// run: how many, and when the A queries came (each a resolution). */
export function dnsLine(q: NonNullable<LbPolicyResult['dnsQueries']>): string {
  const a = q.filter((x) => x.type === 'A');
  return `${q.length} DNS queries, A at ${a.map((x) => `+${(x.atMs / 1000).toFixed(1)}s`).join(', ') || '-'}`;
}

/** One sentence per scenario of a mode's run (kill, add, slow). */
export function scenarioLines(p: LbPolicyResult): string[] {
  const out: string[] = [];
  const k = p.kill;
  if (k) {
    const next =
      k.failoverMs === null
        ? 'no Put succeeded afterwards'
        : `next success after ${(k.failoverMs / 1000).toFixed(2)} s`;
    out.push(
      `killed ${k.member}${k.wasLeader ? ' (the leader)' : ''} after ${k.afterPuts} Puts (+${(k.atMs / 1000).toFixed(1)}s): ${next}, ${k.failuresAfter} failed; Puts afterwards per member ${k.putsAfter.join('/')}`,
    );
  }
  const a = p.add;
  if (a) {
    const first =
      a.firstPutMs === null
        ? 'the client never sent it a Put'
        : `its first Put ${(a.firstPutMs / 1000).toFixed(2)} s after it was healthy`;
    out.push(
      `added ${a.member} after ${a.afterPuts} Puts (+${(a.addedAtMs / 1000).toFixed(1)}s, healthy +${(a.healthyAtMs / 1000).toFixed(1)}s): ${first}; it handled ${a.puts}`,
    );
  }
  const s = p.slow;
  if (s)
    out.push(
      `slow ${s.member}: stopped ${s.stoppedMs} ms of every ${s.periodMs} ms (${s.bursts} bursts)${s.busiest ? ', the member this client used most' : ''}`,
    );
  return out;
}

/** Share of each member per second (by the answering member), one line a second, stacked bar. */
export function timelineText(p: LbPolicyResult): string {
  const legend = p.members
    .map((m, i) => `${TIMELINE_GLYPHS[i % TIMELINE_GLYPHS.length]} ${m.member}`)
    .join('  ');
  const rows = p.timeline.map((row, sec) => {
    const failed = p.timelineFailures[sec] ?? 0;
    const all = row.reduce((a, b) => a + b, 0) + failed;
    let cells = '';
    for (const [i, n] of row.entries())
      cells += TIMELINE_GLYPHS[i % TIMELINE_GLYPHS.length]!.repeat(
        all > 0 ? Math.round((n / all) * TIMELINE_CELLS) : 0,
      );
    cells += '×'.repeat(all > 0 ? Math.round((failed / all) * TIMELINE_CELLS) : 0);
    const shares = row.map((n) => pct(n, all).padStart(4)).join(' ');
    return `  +${String(sec).padStart(2)}s ${cells.slice(0, TIMELINE_CELLS + 2).padEnd(TIMELINE_CELLS)} ${shares}${failed > 0 ? `  ${failed} failed` : ''}`;
  });
  return [
    `  share per second (${legend}${p.timelineFailures.some((f) => f > 0) ? '  × failed' : ''}):`,
    ...rows,
  ].join('\n');
}

/** The timeline as SVG: one stacked column per second, a segment per member (and failures). */
export function svgTimeline(p: LbPolicyResult): string {
  const colW = 26;
  const h = 160;
  const top = 10;
  const plotH = h - 40;
  const cols = p.timeline.map((row, sec) => {
    const failed = p.timelineFailures[sec] ?? 0;
    const all = row.reduce((a, b) => a + b, 0) + failed;
    let y = top + plotH;
    const x = 40 + sec * colW;
    const segs: string[] = [];
    const seg = (count: number, colour: string, attrs: string) => {
      if (all === 0 || count === 0) return;
      const sh = (count / all) * plotH;
      y -= sh;
      segs.push(
        `<rect x="${x}" y="${y.toFixed(2)}" width="${colW - 4}" height="${sh.toFixed(2)}" fill="${colour}" class="tl" data-second="${sec}" ${attrs} data-count="${count}" data-share="${(count / all).toFixed(3)}"/>`,
      );
    };
    for (const [i, n] of row.entries())
      seg(
        n,
        TIMELINE_COLOURS[i % TIMELINE_COLOURS.length]!,
        `data-member="${esc(p.members[i]?.member ?? '')}"`,
      );
    seg(failed, FAILURE_COLOUR, 'data-member="failed"');
    return `${segs.join('')}<text x="${x}" y="${h - 14}" class="num">+${sec}s</text>`;
  });
  const legend = p.members
    .map(
      (m, i) =>
        `<span class="key" style="background:${TIMELINE_COLOURS[i % TIMELINE_COLOURS.length]}"></span>${esc(m.member)}`,
    )
    .join(' ');
  const axis = `<text x="4" y="${top + 10}" class="num">100%</text><text x="4" y="${top + plotH}" class="num">0%</text>`;
  return `<p class="legend">${legend}${p.timelineFailures.some((f) => f > 0) ? ` <span class="key" style="background:${FAILURE_COLOUR}"></span>failed` : ''}</p><svg xmlns="http://www.w3.org/2000/svg" width="${60 + p.timeline.length * colW}" height="${h}" role="img" aria-label="share per second">${axis}${cols.join('')}</svg>`;
}

/** `tsetcd lab lb` as a self-contained HTML page: per mode, bars, table, scenario lines, timeline. */
export function renderLbHtml(r: LbResult): string {
  const sections = r.policies
    .map((p) => {
      const asScenario = {
        title: p.policy,
        requests: p.requests,
        failures: p.failures,
        backends: p.members.map((m) => ({ pod: `${m.member} ${m.endpoint}`, answers: m.requests })),
      } as unknown as ScenarioResult;
      const rows = p.members
        .map(
          (m) =>
            `<tr><td>${m.member}</td><td>${m.endpoint}</td><td>${m.requests}</td><td>${m.packets ?? '-'}</td><td>${pct(m.share, 1)}</td><td>${ms(m.latencyMsP50)}</td><td>${ms(m.latencyMsP99)}</td></tr>`,
        )
        .join('');
      const lines = scenarioLines(p)
        .map((l) => `<p class="scenario">${esc(l)}</p>`)
        .join('');
      return `<section id="${p.policy}"><h2>${p.policy} <small>(${esc(p.target)})</small></h2>
<p>${p.requests} Puts${p.failures > 0 ? `, ${p.failures} failed` : ''}; latency p50 ${ms(p.latencyMsP50)} ms, p99 ${ms(p.latencyMsP99)} ms</p>
${svgBars(asScenario)}${lines}
<table><tr><th>member</th><th>endpoint</th><th>requests</th><th>packets</th><th>share</th><th>p50 ms</th><th>p99 ms</th></tr>${rows}</table>
<h3>Share per second</h3>${svgTimeline(p)}</section>`;
    })
    .join('\n');
  const notes = [...(r.packetsNote ? [r.packetsNote] : []), ...(r.notes ?? [])];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tsetcd lab lb</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-top:.5em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.bar{fill:#3b78c4}.pod{font:13px monospace}.num{font:11px sans-serif}
.scenario{font-weight:bold}.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle}
</style></head><body>
<h1>Seed 000: where do the client's requests go?</h1>
<p>${esc(r.binary)} members ${r.endpoints.map(esc).join(', ')}; Puts through tsetcd/client at ${r.rate} per second;
requests counted by each member's own grpc_server_handled_total (KV.Put); packets: TCP segments with PSH to each member's
client addresses${notes.length > 0 ? ` (${notes.map(esc).join('; ')})` : ''}.</p>
${sections}
</body></html>
`;
}
