/**
 * Latency recording for the load generator: an HDR-style log-linear histogram over whole
 * microseconds. Recording is one array increment (no allocation per request); memory is fixed at
 * `bucketCount` float64 counters however long the run is.
 *
 * Layout: values below `2 * subBucketCount` (256 us) get one bucket each, so they are exact. Above
 * that every power-of-two range [2^m, 2^(m+1)) is cut into `subBucketCount` (128) equal buckets, so
 * a bucket is at most 1/128 (< 0.8%) of the values it holds wide. Percentiles report the highest
 * value of their bucket (capped at the recorded maximum), as HdrHistogram does, so a reported
 * percentile never understates the latency. Min, max and the mean are kept exactly.
 */

/** Sub-buckets per power of two: sets the relative precision (1/128) of values above 256 us. */
const subBucketBits = 7;
const subBucketCount = 1 << subBucketBits;
/** Largest recordable value in microseconds (2^32 - 1, about 71 minutes); larger values are clamped. */
export const latencyUsMax = 0xffff_ffff;
/** Number of counters: the exact range plus 128 buckets per power of two from 2^8 to 2^31. */
const bucketCount = 2 * subBucketCount + (32 - subBucketBits - 1) * subBucketCount;

/** Maps a whole-microsecond value to its bucket. */
function bucketOf(us: number): number {
  if (us < 2 * subBucketCount) return us;
  const msb = 31 - Math.clz32(us);
  const shift = msb - subBucketBits;
  return 2 * subBucketCount + (shift - 1) * subBucketCount + ((us >>> shift) - subBucketCount);
}

/** The highest value that falls in `bucket` (inverse of bucketOf). */
function bucketHigh(bucket: number): number {
  if (bucket < 2 * subBucketCount) return bucket;
  const rest = bucket - 2 * subBucketCount;
  const shift = Math.floor(rest / subBucketCount) + 1;
  const mantissa = (rest % subBucketCount) + subBucketCount;
  return (mantissa + 1) * 2 ** shift - 1;
}

/** Percentiles a summary reports, in percent. */
export const reportedPercentiles = [50, 90, 99, 99.9] as const;

/** A latency summary in milliseconds; every field is 0 when nothing was recorded. */
export interface LatencySummary {
  /** Number of recorded values. */
  count: number;
  minMs: number;
  avgMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** A fixed-size latency histogram; see the file comment for its precision. Not thread-shared. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(bucketCount);
  private n = 0;
  private sumUs = 0;
  private minUs = Number.POSITIVE_INFINITY;
  private maxUs = 0;

  /** Records one latency in microseconds; fractions are rounded, negatives count as 0, huge values clamp. */
  record(us: number): void {
    let v = Math.round(us);
    if (!(v > 0)) v = 0;
    else if (v > latencyUsMax) v = latencyUsMax;
    this.counts[bucketOf(v)]! += 1;
    this.n += 1;
    this.sumUs += v;
    if (v < this.minUs) this.minUs = v;
    if (v > this.maxUs) this.maxUs = v;
  }

  /** Number of recorded values. */
  get count(): number {
    return this.n;
  }

  /** Largest recorded value in microseconds (exact); 0 when empty. */
  get max(): number {
    return this.maxUs;
  }

  /** Smallest recorded value in microseconds (exact); 0 when empty. */
  get min(): number {
    return this.n === 0 ? 0 : this.minUs;
  }

  /** Mean of the recorded (rounded) values in microseconds; 0 when empty. */
  get mean(): number {
    return this.n === 0 ? 0 : this.sumUs / this.n;
  }

  /**
   * The nearest-rank percentile in microseconds: the smallest recorded value v such that at least
   * `p` percent of values are <= v, reported as the top of v's bucket (exact below 256 us) and never
   * above the exact maximum. `p` in [0, 100]; p = 0 gives the minimum. 0 when empty.
   */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
    if (this.n === 0) return 0;
    if (p === 0) return this.minUs;
    // Nearest rank: ceil(p/100 * n), computed so that e.g. 99.9% of 1000 is exactly rank 999.
    const rank = Math.max(1, Math.ceil(Number(((p / 100) * this.n).toPrecision(12))));
    let seen = 0;
    for (let b = 0; b < bucketCount; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(bucketHigh(b), this.maxUs);
    }
    return this.maxUs;
  }

  /** Adds every value recorded in `other` into this histogram. */
  merge(other: LatencyHistogram): void {
    for (let b = 0; b < bucketCount; b++) this.counts[b]! += other.counts[b]!;
    this.n += other.n;
    this.sumUs += other.sumUs;
    if (other.n > 0) {
      this.minUs = Math.min(this.minUs, other.minUs);
      this.maxUs = Math.max(this.maxUs, other.maxUs);
    }
  }

  /** The summary the result table prints, converted to milliseconds. */
  summary(): LatencySummary {
    const ms = (us: number): number => us / 1000;
    return {
      count: this.n,
      minMs: ms(this.min),
      avgMs: ms(this.mean),
      p50Ms: ms(this.percentile(50)),
      p90Ms: ms(this.percentile(90)),
      p99Ms: ms(this.percentile(99)),
      p999Ms: ms(this.percentile(99.9)),
      maxMs: ms(this.max),
    };
  }
}
