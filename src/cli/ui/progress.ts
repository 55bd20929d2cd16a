/**
 * A progress bar for long-running commands. It pulls the done count from a callback on a timer, so
 * the hot path (one request completing) costs nothing but the caller's own counter increment.
 *
 * On a TTY it redraws one line in place (`\r`) every `intervalMs`; elsewhere (a pipe, a CI log) it
 * draws nothing while running and writes one final line, so logs stay readable.
 */

/** The part of a stream the bar uses; process.stderr fits. */
export interface ProgressStream {
  write(s: string): unknown;
  /** True for a terminal; the bar animates only then. */
  isTTY?: boolean;
  /** Terminal width in columns, when known. */
  columns?: number;
}

/** Redraw interval of the bar on a TTY, in milliseconds. */
export const progressIntervalMs = 100;

/** Settings of one bar. */
export interface ProgressOptions {
  /** Text before the bar, e.g. `put etcd`. */
  label: string;
  /** The count at which the work is complete (> 0). */
  total: number;
  /** Reads the current done count; called only when drawing. */
  done: () => number;
  /** Where to draw; default process.stderr. */
  stream?: ProgressStream;
  /** `off` draws nothing at all, not even the final line. Default `auto`. */
  mode?: 'auto' | 'off';
  /** What is counted, shown in the rate (`req/s`); default `req`. */
  unit?: string;
  /** Clock in milliseconds; default performance.now. Injected by tests. */
  now?: () => number;
}

/** Formats seconds as `12s`, `3m04s` or `1h02m`. */
export function formatEta(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '--';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A started progress bar; call finish() exactly once. */
export class ProgressBar {
  private readonly stream: ProgressStream;
  private readonly mode: 'auto' | 'off';
  private readonly now: () => number;
  private readonly startMs: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private finished = false;

  constructor(private readonly opts: ProgressOptions) {
    if (!(opts.total > 0)) throw new RangeError(`progress total must be > 0, got ${opts.total}`);
    this.stream = opts.stream ?? process.stderr;
    this.mode = opts.mode ?? 'auto';
    this.now = opts.now ?? (() => performance.now());
    this.startMs = this.now();
  }

  /** True when the bar redraws in place (a TTY and mode `auto`). */
  get animated(): boolean {
    return this.mode === 'auto' && this.stream.isTTY === true;
  }

  /** Starts the redraw timer (only when animated). The timer does not keep the process alive. */
  start(): this {
    if (this.animated && this.timer === undefined) {
      this.timer = setInterval(() => this.draw(), progressIntervalMs);
      this.timer.unref();
      this.draw();
    }
    return this;
  }

  /** The bar line for the current count (no `\r`). Public so tests can check it without a timer. */
  line(): string {
    const total = this.opts.total;
    const done = Math.min(this.opts.done(), total);
    const elapsedSec = (this.now() - this.startMs) / 1000;
    const rate = elapsedSec > 0 ? done / elapsedSec : 0;
    const eta = rate > 0 ? formatEta((total - done) / rate) : '--';
    const pct = `${String(Math.floor((done / total) * 100)).padStart(3)}%`;
    const tail = ` ${done}/${total} ${pct} ${Math.round(rate)} ${this.opts.unit ?? 'req'}/s ETA ${eta}`;
    const columns = this.stream.columns ?? 80;
    const barWidth = Math.max(10, Math.min(40, columns - this.opts.label.length - tail.length - 4));
    const filled = Math.round((done / total) * barWidth);
    return `${this.opts.label} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${tail}`;
  }

  private draw(): void {
    // \x1b[K clears what a longer previous line left behind.
    this.stream.write(`\r${this.line()}\x1b[K`);
  }

  /**
   * Stops the bar and writes its final line: on a TTY it replaces the bar, elsewhere it is the only
   * line written. `summary` (e.g. `10000 requests in 3.2s`) follows the label.
   */
  finish(summary: string): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.mode === 'off') return;
    const text = `${this.opts.label}: ${summary}\n`;
    this.stream.write(this.animated ? `\r${text.slice(0, -1)}\x1b[K\n` : text);
  }
}
