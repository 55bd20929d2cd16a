/**
 * A line diff for the key browser's "diff between revisions": the longest common subsequence of
 * lines (O(n·m) table), bounded by DIFF_CELLS_MAX so a huge value cannot freeze the page.
 */

/** Largest n·m the table may have (beyond it the diff is refused, not computed slowly). */
export const DIFF_CELLS_MAX = 4_000_000;

export interface DiffLine {
  op: ' ' | '-' | '+';
  text: string;
}

/** The lines of `a` and `b` as kept ( ), removed (-) and added (+); undefined when too large. */
export function lineDiff(a: string, b: string): DiffLine[] | undefined {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  if (n * m > DIFF_CELLS_MAX) return undefined;
  // lcs[i][j]: LCS length of x[i..] and y[j..], in one flat array.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] =
        x[i] === y[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) {
      out.push({ op: '-', text: x[i]! });
      i++;
    } else {
      out.push({ op: '+', text: y[j]! });
      j++;
    }
  }
  while (i < n) out.push({ op: '-', text: x[i++]! });
  while (j < m) out.push({ op: '+', text: y[j++]! });
  return out;
}
