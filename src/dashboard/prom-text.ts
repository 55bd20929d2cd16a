/**
 * Reads the Prometheus text exposition format (version 0.0.4) that a member's /metrics serves, as far
 * as the dashboard needs: every sample line as name, labels and value. Comments, HELP and TYPE lines
 * are skipped; a line that does not parse is skipped too (a dashboard must not die on one odd line).
 */

/** One sample: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(s: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

/** Every sample of `text`, in order. */
export function parsePromText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    LABEL.lastIndex = 0;
    let ok = true;
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body);
      if (!l) {
        ok = body.slice(LABEL.lastIndex).trim() === '';
        break;
      }
      labels[l[1]!] = unescapeLabel(l[2]!);
    }
    const value = parseValue(m[3]!);
    if (ok && !Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Sums the samples named `name` by the value of label `by` (samples without it count under ''). */
export function sumBy(samples: Sample[], name: string, by: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    const k = s.labels[by] ?? '';
    out.set(k, (out.get(k) ?? 0) + s.value);
  }
  return out;
}

/** The value of the first sample named `name` (undefined when there is none). */
export function firstValue(samples: Sample[], name: string): number | undefined {
  return samples.find((s) => s.name === name)?.value;
}
