/**
 * Big ranges answered piece by piece (beyond etcd 3.4, which builds every KeyValue of a range in
 * memory before sending: a range over millions of keys costs it gigabytes, and past 2 GiB grpc-go
 * refuses to send it). A plain range (a key range without limit, sort other than by key ascending,
 * revision filters, count-only or keys-only) of at least RANGE_STREAM_KEYS_MIN keys is answered
 * from MvccStore.encodedRange: the stored KeyValue bytes, framed as RangeResponse fields and handed
 * to the gRPC layer a megabyte at a time with backpressure, so the member's memory stays bounded
 * by about 20 bytes per key instead of the whole response. The bytes are the ones the ordinary
 * path would send (header, kvs, count; `more` is false), checked by range-stream.test.ts.
 */
import type { EncodedRange, MvccStore } from '../mvcc/index.js';
import {
  type RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeResponse,
  type ResponseHeader,
} from '../proto/etcdserverpb/rpc.js';
import { header } from './apply.js';

/** Fewer keys than this are answered the ordinary way (one response object). */
export const RANGE_STREAM_KEYS_MIN = 10_000;

/** Whether `r` is a range the piecewise path can answer exactly (see the file comment). */
export function isStreamable(r: RangeRequest): boolean {
  const byKey =
    r.sortTarget === RangeRequest_SortTarget.KEY &&
    (r.sortOrder === RangeRequest_SortOrder.NONE || r.sortOrder === RangeRequest_SortOrder.ASCEND);
  return (
    r.rangeEnd.length > 0 &&
    r.limit === 0n &&
    !r.countOnly &&
    !r.keysOnly &&
    byKey &&
    r.minModRevision === 0n &&
    r.maxModRevision === 0n &&
    r.minCreateRevision === 0n &&
    r.maxCreateRevision === 0n
  );
}

/**
 * A RangeResponse whose serialized bytes come piece by piece (the shape of the gRPC layer's
 * PreEncodedMessage). `header` may be filled in until the first `next()`.
 */
export class StreamedRangeResponse {
  readonly preEncoded = true;
  header: ResponseHeader;
  private head: Buffer | undefined;
  private tail: Buffer | undefined;
  private stage: 'head' | 'kvs' | 'tail' | 'done' = 'head';

  constructor(private readonly range: EncodedRange) {
    this.header = header(range.rev);
  }

  /** Keys in the response. */
  get count(): number {
    return this.range.count;
  }

  /** Total bytes of the serialized RangeResponse (fixes the header). */
  get bytes(): number {
    this.encodeEnds();
    return this.head!.length + this.range.kvsBytes + this.tail!.length;
  }

  private encodeEnds(): void {
    if (this.head !== undefined) return;
    // Field order as etcd's marshaller writes them: header (1), kvs (2), more (3, false: omitted), count (4).
    this.head = Buffer.from(
      RangeResponse.encode({ header: this.header, kvs: [], more: false, count: 0n }).finish(),
    );
    this.tail = Buffer.from(
      RangeResponse.encode({
        header: undefined,
        kvs: [],
        more: false,
        count: BigInt(this.range.count),
      }).finish(),
    );
  }

  /** The next piece of the message, undefined after the last. Throws MvccError 'closed' if the store closed. */
  next(): Buffer | undefined {
    this.encodeEnds();
    switch (this.stage) {
      case 'head':
        this.stage = 'kvs';
        return this.head!;
      case 'kvs': {
        const c = this.range.next();
        if (c !== undefined) return c;
        this.stage = 'tail';
        return this.tail!.length > 0 ? this.tail! : this.next();
      }
      case 'tail':
        this.stage = 'done';
        return undefined;
      default:
        return undefined;
    }
  }

  /** Frees the store's read transaction; idempotent. */
  release(): void {
    this.range.release();
  }
}

/**
 * The piecewise answer to `r` from `store`, or undefined when `r` is not streamable or has fewer
 * than RANGE_STREAM_KEYS_MIN keys (answer it the ordinary way). Throws MvccError as range().
 */
export function rangeStreamed(store: MvccStore, r: RangeRequest): StreamedRangeResponse | undefined {
  if (!isStreamable(r)) return undefined;
  const er = store.encodedRange(r.key, r.rangeEnd, Number(r.revision));
  if (er.count < RANGE_STREAM_KEYS_MIN) {
    er.release();
    return undefined;
  }
  if (store.ops) store.ops.ranges++;
  return new StreamedRangeResponse(er);
}
