/**
 * The lab's output: a summary table (etcdctl's box style), terminal bar charts of answers per pod,
 * and a self-contained HTML report whose charts are inline SVG (no CDN, no script).
 */
import { renderTable } from '../ui/index.js';
import type { KubeLabResult, ScenarioResult } from './kube.js';
import type { ScaleResult } from './kube-scale.js';
import type { LbResult } from './lb.js';

/** Width of the longest terminal bar, in cells. */
export const BAR_CELLS_MAX = 40;

/** A bar of `value` out of `max`, in eighth-block characters. */
export function bar(value: number, max: number, cells = BAR_CELLS_MAX): string {
  if (max <= 0 || value <= 0) return '';
  const eighths = Math.max(1, Math.round((value / max) * cells * 8));
  const full = Math.floor(eighths / 8);
  const rest = eighths % 8;
  return '█'.repeat(full) + (rest > 0 ? ' ▏▎▍▌▋▊▉'[rest]! : '');
}

function pct(n: number, of: number): string {
  return of > 0 ? `${Math.round((n / of) * 100)}%` : '-';
}

function gatewaySummary(s: ScenarioResult): string {
  return s.gateways.map((g) => Object.keys(g.backends).length).join('/');
}

/** The summary table plus one bar chart per scenario, as the terminal shows them. */
export function renderText(r: KubeLabResult): string {
  const table = renderTable({
    header: ['SCENARIO', 'PATH', 'REQUESTS', 'PODS ANSWERING', 'PODS PER GATEWAY', 'DNS QUERIES', 'RESULT'],
    rows: r.scenarios.map((s) => [
      s.title,
      s.path,
      String(s.requests - s.failures) + (s.failures > 0 ? ` (+${s.failures} failed)` : ''),
      `${s.podsReached} of ${r.replicas}`,
      gatewaySummary(s),
      String(s.dnsQueries),
      `${s.expect === 'spread' ? 'spread' : 'one pod per gateway'}${s.asExpected ? '' : ' NOT AS EXPECTED'}`,
    ]),
    align: ['left', 'left', 'right', 'right', 'right', 'right', 'left'],
  });
  const charts = r.scenarios.map((s) => {
    const ok = s.requests - s.failures;
    const max = Math.max(...s.backends.map((b) => b.answers));
    const width = Math.max(...s.backends.map((b) => b.pod.length));
    const lines = s.backends.map(
      (b) =>
        `  ${b.pod.padEnd(width)}  ${bar(b.answers, max).padEnd(BAR_CELLS_MAX)}  ${String(b.answers).padStart(4)}  ${pct(b.answers, ok).padStart(4)}`,
    );
    const perGw = s.gateways.map(
      (g) =>
        `    via ${g.pod}: ${
          Object.entries(g.backends)
            .map(([p, n]) => `${p.slice(p.lastIndexOf('-') + 1)} ${n}`)
            .join(', ') || '-'
        }`,
    );
    return [`${s.title} — ${s.requests} x curl serve-svc${s.path}`, ...lines, ...perGw].join('\n');
  });
  return `${table}\n${charts.join('\n\n')}\n${r.scale ? `\n${renderScaleText(r.scale)}` : ''}`;
}

function noticed(ms: number | null): string {
  return ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`;
}

/** The scale-up experiment: when each gateway noticed, and the new pods' share per second. */
export function renderScaleText(scale: readonly ScaleResult[]): string {
  const table = renderTable({
    header: ['SCALE-UP', 'PODS', 'NEW PODS ANSWERED', 'EACH GATEWAY NOTICED AFTER', 'RESULT'],
    rows: scale.map((s) => [
      s.title,
      `${s.from} -> ${s.to}`,
      `${s.answersFromNew} of ${s.answersAfter}${s.failures > 0 ? ` (${s.failures} failed)` : ''}`,
      Object.values(s.noticedAfterMs).map(noticed).join(', '),
      `${s.expect === 'never' ? 'never notices' : 'notices'}${s.asExpected ? '' : ' NOT AS EXPECTED'}`,
    ]),
  });
  const timelines = scale.map(
    (s) =>
      `${s.id}: new pods' share per second after the scale-up\n${s.newShareBySecond
        .map((f, i) => `  +${i}s ${bar(f, 1, 20).padEnd(20)} ${Math.round(f * 100)}%`)
        .join('\n')}`,
  );
  return `${table}${timelines.join('\n')}\n`;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** One horizontal bar chart as inline SVG: a row per pod, bar length proportional to answers. */
export function svgBars(s: ScenarioResult): string {
  const rowH = 26;
  const labelW = 260;
  const barW = 360;
  const h = s.backends.length * rowH + 10;
  const max = Math.max(1, ...s.backends.map((b) => b.answers));
  const ok = s.requests - s.failures;
  const rows = s.backends.map((b, i) => {
    const y = 5 + i * rowH;
    const w = Math.round((b.answers / max) * barW);
    return (
      `<text x="${labelW - 8}" y="${y + 17}" text-anchor="end" class="pod">${esc(b.pod)}</text>` +
      `<rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 8}" class="bar" data-pod="${esc(b.pod)}" data-answers="${b.answers}"/>` +
      `<text x="${labelW + w + 6}" y="${y + 17}" class="num">${b.answers} (${pct(b.answers, ok)})</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 90}" height="${h}" role="img" aria-label="${esc(s.title)}">${rows.join('')}</svg>`;
}

/** The HTML report: the summary table and one SVG chart per scenario, self-contained. */
export function renderHtml(r: KubeLabResult): string {
  const rows = r.scenarios
    .map(
      (s) =>
        `<tr><td>${esc(s.title)}</td><td>${s.path}</td><td>${s.requests - s.failures}</td><td>${s.podsReached} of ${r.replicas}</td><td>${gatewaySummary(s)}</td><td>${s.dnsQueries}</td><td class="${s.asExpected ? 'ok' : 'bad'}">${s.expect === 'spread' ? 'spread' : 'one pod per gateway'}${s.asExpected ? '' : ' (not as expected)'}</td></tr>`,
    )
    .join('\n');
  const charts = r.scenarios
    .map(
      (s) =>
        `<section id="${s.id}"><h2>${esc(s.title)}</h2><p>${s.requests} × <code>curl serve-svc${s.path}</code>; answers per ${s.path.slice(1)} pod</p>${svgBars(s)}<p class="gw">${s.gateways
          .map(
            (g) =>
              `${esc(g.pod)} → ${
                Object.entries(g.backends)
                  .map(([p, n]) => `${esc(p)} ×${n}`)
                  .join(', ') || '-'
              }`,
          )
          .join('<br>')}</p></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tsetcd lab kube — run ${r.runId}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.ok{color:#070}.bad{color:#b00;font-weight:bold}
.bar{fill:#3b78c4}.pod{font:13px monospace}.num{font:13px sans-serif}.gw{font:12px monospace;color:#555}
</style></head><body>
<h1>Seed 001 on one machine: which pod answered</h1>
<p>${r.replicas} replicas per deployment, ${r.requests} requests per scenario, run ${esc(r.runId)}.
Pods per gateway: how many backend pods each helloserve replica reached.</p>
<table><tr><th>scenario</th><th>path</th><th>answers</th><th>pods answering</th><th>pods per gateway</th><th>DNS queries</th><th>result</th></tr>
${rows}
</table>
${charts}
${r.scale ? renderScaleHtml(r.scale) : ''}
</body></html>
`;
}

/** The scale-up section of the HTML report: a table and one share-per-second SVG chart per variant. */
function renderScaleHtml(scale: readonly ScaleResult[]): string {
  const rows = scale
    .map(
      (s) =>
        `<tr><td>${esc(s.title)}</td><td>${s.from} → ${s.to}</td><td>${s.answersFromNew} of ${s.answersAfter}</td><td>${Object.values(
          s.noticedAfterMs,
        )
          .map(noticed)
          .join(
            ', ',
          )}</td><td class="${s.asExpected ? 'ok' : 'bad'}">${s.expect === 'never' ? 'never notices' : 'notices'}</td></tr>`,
    )
    .join('\n');
  const charts = scale
    .map((s) => {
      const colW = 36;
      const h = 120;
      const cols = s.newShareBySecond
        .map((f, i) => {
          const bh = Math.round(f * (h - 20));
          return `<rect x="${10 + i * colW}" y="${h - 15 - bh}" width="${colW - 8}" height="${bh}" class="bar" data-second="${i}" data-share="${f.toFixed(3)}"/><text x="${10 + i * colW}" y="${h - 2}" class="num">+${i}s</text>`;
        })
        .join('');
      return `<h3>${esc(s.title)}</h3><svg xmlns="http://www.w3.org/2000/svg" width="${20 + s.newShareBySecond.length * colW}" height="${h}" role="img" aria-label="share of new pods per second">${cols}</svg>`;
    })
    .join('\n');
  return `<h2>Scale-up mid-run: when does each gateway notice?</h2>
<table><tr><th>variant</th><th>pods</th><th>answers from new pods</th><th>each gateway noticed after</th><th>result</th></tr>
${rows}
</table>
<p>Bars: share of answers from the new pods in each second after the scale-up.</p>
${charts}`;
}

/** `tsetcd lab lb`: one table (policy, member, requests, packets, share) and bars per policy. */
export function renderLbText(r: LbResult): string {
  const table = renderTable({
    header: ['POLICY', 'MEMBER', 'ENDPOINT', 'REQUESTS', 'PACKETS', 'SHARE'],
    rows: r.policies.flatMap((p) =>
      p.members.map((m) => [
        p.policy,
        m.member,
        m.endpoint,
        String(m.requests),
        m.packets === null ? '-' : String(m.packets),
        pct(m.share, 1),
      ]),
    ),
    align: ['left', 'left', 'left', 'right', 'right', 'right'],
  });
  const charts = r.policies.map((p) => {
    const max = Math.max(...p.members.map((m) => m.requests));
    return `${p.policy} — ${p.requests} Puts${p.failures > 0 ? ` (${p.failures} failed)` : ''}\n${p.members
      .map(
        (m) =>
          `  ${m.member} ${m.endpoint.padEnd(16)} ${bar(m.requests, max).padEnd(BAR_CELLS_MAX)} ${String(m.requests).padStart(5)}  ${pct(m.share, 1).padStart(4)}`,
      )
      .join('\n')}${p.kill ? `\n  ${killLine(p.kill)}\n${timelineText(p)}` : ''}`;
  });
  return `${table}${r.packetsNote ? `(${r.packetsNote})\n` : ''}\n${charts.join('\n\n')}\n`;
}

/** Puts per member in each second (by the answering member), one line a second. */
export function timelineText(p: LbResult['policies'][number]): string {
  return p.timeline
    .map(
      (row, sec) =>
        `  +${sec}s  ${row.map((n, i) => `${p.members[i]?.member ?? i} ${String(n).padStart(3)}`).join('  ')}`,
    )
    .join('\n');
}

/** One sentence on a `--kill` run. */
export function killLine(k: NonNullable<LbResult['policies'][number]['kill']>): string {
  const next =
    k.failoverMs === null
      ? 'no Put succeeded afterwards'
      : `next success after ${(k.failoverMs / 1000).toFixed(2)} s`;
  return `killed ${k.member}${k.wasLeader ? ' (the leader)' : ''} after ${k.afterPuts} Puts: ${next}, ${k.failuresAfter} failed; Puts afterwards per member ${k.putsAfter.join('/')}`;
}

/** `tsetcd lab lb` as a self-contained HTML page with one SVG bar chart per policy. */
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
            `<tr><td>${m.member}</td><td>${m.endpoint}</td><td>${m.requests}</td><td>${m.packets ?? '-'}</td><td>${pct(m.share, 1)}</td></tr>`,
        )
        .join('');
      return `<section id="${p.policy}"><h2>${p.policy}</h2>${svgBars(asScenario)}${p.kill ? `<p>${esc(killLine(p.kill))}</p>` : ''}<table><tr><th>member</th><th>endpoint</th><th>requests</th><th>packets</th><th>share</th></tr>${rows}</table></section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tsetcd lab lb</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-top:.5em}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.bar{fill:#3b78c4}.pod{font:13px monospace}.num{font:13px sans-serif}
</style></head><body>
<h1>Seed 000: where do the client's requests go?</h1>
<p>${esc(r.binary)} members ${r.endpoints.map(esc).join(', ')}; requests counted by each member's own
grpc_server_handled_total (KV.Put); packets: TCP segments with PSH to each client port${r.packetsNote ? ` (${esc(r.packetsNote)})` : ''}.</p>
${sections}
</body></html>
`;
}
