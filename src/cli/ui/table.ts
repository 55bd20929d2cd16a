/**
 * Plain-text tables for terminal output, shared by `tsetcd bench` and tsetcdctl's `-w table`.
 * The `box` style draws etcdctl's (tablewriter's) frame: `+---+` rules, `| a | b |` rows, a rule
 * under the header and at the bottom. The `plain` style aligns columns with two spaces and no frame.
 */

/** Horizontal alignment of a column's cells. */
export type Align = 'left' | 'right' | 'center';

/** A table to render. Every row must have exactly header.length cells. */
export interface TableSpec {
  /** Column titles, printed as given (etcdctl passes them upper-case). */
  header: readonly string[];
  /** Body rows. */
  rows: readonly (readonly string[])[];
  /** Alignment per body column; default left. Headers are always centered in `box`, left in `plain`. */
  align?: readonly Align[];
  /** `box` (default) or `plain`. */
  style?: 'box' | 'plain';
}

/** Display width of a string: counts code points (no wide-character handling). */
export function displayWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Pads `s` to `width` columns with the given alignment; never truncates. */
export function pad(s: string, width: number, align: Align): string {
  const gap = width - displayWidth(s);
  if (gap <= 0) return s;
  if (align === 'right') return ' '.repeat(gap) + s;
  if (align === 'left') return s + ' '.repeat(gap);
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + s + ' '.repeat(gap - left);
}

/**
 * Renders a table to a string ending in a newline. Throws RangeError when a row's length differs
 * from the header's.
 */
export function renderTable(spec: TableSpec): string {
  const cols = spec.header.length;
  for (const [i, row] of spec.rows.entries()) {
    if (row.length !== cols)
      throw new RangeError(`table row ${i} has ${row.length} cells, header has ${cols}`);
  }
  const widths = spec.header.map((h, c) =>
    Math.max(displayWidth(h), ...spec.rows.map((r) => displayWidth(r[c]!))),
  );
  const alignOf = (c: number): Align => spec.align?.[c] ?? 'left';
  const lines: string[] = [];
  if ((spec.style ?? 'box') === 'box') {
    const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
    const line = (cells: readonly string[], align: (c: number) => Align): string =>
      `| ${cells.map((cell, c) => pad(cell, widths[c]!, align(c))).join(' | ')} |`;
    lines.push(
      rule,
      line(spec.header, () => 'center'),
      rule,
    );
    for (const row of spec.rows) lines.push(line(row, alignOf));
    lines.push(rule);
  } else {
    const line = (cells: readonly string[], align: (c: number) => Align): string =>
      cells
        .map((cell, c) => pad(cell, widths[c]!, align(c)))
        .join('  ')
        .trimEnd();
    lines.push(line(spec.header, () => 'left'));
    for (const row of spec.rows) lines.push(line(row, alignOf));
  }
  return `${lines.join('\n')}\n`;
}
