/**
 * The lab's output: a summary table (etcdctl's box style), terminal bar charts of answers per pod,
 * and a self-contained HTML report whose charts are inline SVG (no CDN, no script).
 */
import { renderTable } from '../ui/index.js';
import type { KubeLabResult, ScenarioResult } from './kube.js';
import type { ScaleResult } from './kube-scale.js';

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

export function pct(n: number, of: number): string {
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

export function esc(s: string): string {
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
