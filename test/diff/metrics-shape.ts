/**
 * Reads a /metrics page into families with their type, the label names of their samples (in the
 * order they are printed) and, for histograms, the bucket bounds: what two pages must agree on for
 * dashboards and alert rules written for one to work on the other.
 */

export interface FamilyShape {
  type: string;
  /** Distinct label-name lists of the family's samples ('le' and histogram suffixes left out). */
  labelSets: Set<string>;
  /** Histogram bucket bounds, as printed (`le`), in order; empty for other types. */
  buckets: string[];
  samples: { labels: Record<string, string>; value: number; suffix: string }[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;

export function shapes(text: string): Map<string, FamilyShape> {
  const out = new Map<string, FamilyShape>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      out.set(t[1]!, { type: t[2]!, labelSets: new Set(), buckets: [], samples: [] });
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m || line.startsWith('#')) continue;
    let name = m[1]!;
    let suffix = '';
    let fam = out.get(name);
    for (const s of ['_bucket', '_sum', '_count']) {
      if (!fam && name.endsWith(s) && out.get(name.slice(0, -s.length))?.type === 'histogram') {
        name = name.slice(0, -s.length);
        suffix = s;
        fam = out.get(name);
      }
    }
    if (!fam) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    const names = Object.keys(labels).filter((n) => n !== 'le');
    fam.labelSets.add(names.join(','));
    if (suffix === '_bucket' && !fam.buckets.includes(labels.le!)) fam.buckets.push(labels.le!);
    fam.samples.push({ labels, value: Number(m[3]), suffix });
  }
  return out;
}
