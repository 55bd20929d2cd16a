/** Go's time.ParseDuration grammar, as etcd's flags use it. */

/** Parses a Go duration ("1h30m", "500ms", "5s") into milliseconds. */
export function parseDurationMs(s: string): number | undefined {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const n = Number(m[1]);
    const unit = m[2];
    total +=
      n *
      (unit === 'h'
        ? 3_600_000
        : unit === 'm'
          ? 60_000
          : unit === 's'
            ? 1000
            : unit === 'ms'
              ? 1
              : unit === 'ns'
                ? 1e-6
                : 1e-3);
    matched = re.lastIndex;
  }
  return matched === s.length && matched > 0 ? total : undefined;
}
