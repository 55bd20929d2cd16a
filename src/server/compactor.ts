/**
 * Auto-compaction, as etcd's --auto-compaction-mode/--auto-compaction-retention:
 * - periodic W (a duration, or whole hours): sample the revision every min(W, 1h)/10; once W has
 *   passed, compact to the revision sampled W ago, then again every min(W, 1h).
 * - revision N: every 5 minutes, compact to (current revision - N).
 * Compactions go through the member's ordinary Compact path, so they are ordered and replicated like
 * any client's. A retention of 0 disables it.
 */
import { parseDurationMs } from '../pkg/duration.js';
import type { Logger } from './logger.js';
import type { Member } from './member.js';

export interface AutoCompactionConfig {
  mode: 'periodic' | 'revision';
  retention: string;
}

const REVISION_MODE_INTERVAL_MS = 5 * 60_000;
const HOUR_MS = 3_600_000;

/** Starts the compactor; `stop()` ends it. Does nothing when retention is 0. */
export function startAutoCompactor(
  member: Member,
  cfg: AutoCompactionConfig,
  logger: Logger,
): { stop(): void } {
  const timers: NodeJS.Timeout[] = [];
  const stop = () => {
    for (const t of timers) clearInterval(t);
  };
  const compact = (rev: number) => {
    if (rev <= 0 || rev <= member.store.compactRev) return;
    member.compact({ revision: BigInt(rev), physical: false }).then(
      () =>
        logger.info(
          { revision: rev, mode: cfg.mode, retention: cfg.retention },
          'completed auto revision compaction',
        ),
      (err: unknown) => logger.warn({ revision: rev, err: String(err) }, 'failed auto revision compaction'),
    );
  };
  if (cfg.mode === 'revision') {
    const keep = Number(cfg.retention);
    if (!(keep > 0)) return { stop };
    timers.push(setInterval(() => compact(member.store.rev - keep), REVISION_MODE_INTERVAL_MS).unref());
    return { stop };
  }
  const periodMs = /^\d+$/.test(cfg.retention)
    ? Number(cfg.retention) * HOUR_MS
    : (parseDurationMs(cfg.retention) ?? 0);
  if (!(periodMs > 0)) return { stop };
  const every = Math.min(periodMs, HOUR_MS);
  const sampleMs = every / 10;
  const samplesKept = Math.round(periodMs / sampleMs) + 1;
  const samples: number[] = [member.store.rev];
  const started = Date.now();
  let lastCompaction = started;
  let waited = false;
  timers.push(
    setInterval(() => {
      samples.push(member.store.rev);
      if (samples.length > samplesKept) samples.shift();
      const now = Date.now();
      const due = waited ? now - lastCompaction >= every : now - started >= periodMs;
      if (!due) return;
      waited = true;
      lastCompaction = now;
      compact(samples[0]!);
    }, sampleMs).unref(),
  );
  return { stop };
}
