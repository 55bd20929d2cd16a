/**
 * Encoding a proposal (issue 15, the put path). The hot request kinds (put, delete, txn, range) are
 * written straight into one writer, header first, in the field order of the generated
 * `InternalRaftRequest.encode` (so the bytes are the same as before); every other kind goes through
 * the generated `fromPartial` + `encode`. The message is returned too: the member that proposed it
 * applies that object instead of decoding its own entry again (`OwnProposals`). The entry bytes stay
 * the durable truth: followers, and this member after a restart, decode them.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { ReusedWriter } from '../pkg/reused-writer.js';
import { InternalRaftRequest, RequestHeader } from '../proto/etcdserverpb/raft_internal.js';
import { DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest } from '../proto/etcdserverpb/rpc.js';

export interface Proposal {
  request: InternalRaftRequest;
  data: Uint8Array;
}

/** A request kind written directly: its field's tag and its generated codec. */
interface Direct {
  tag: number;
  codec: {
    fromPartial(o: never): unknown;
    encode(m: never, w: BinaryWriter): BinaryWriter;
  };
}

/** Tags as in `InternalRaftRequest.encode`: (field number << 3) | 2. */
const DIRECT: Record<string, Direct | undefined> = {
  range: { tag: 26, codec: RangeRequest },
  put: { tag: 34, codec: PutRequest },
  deleteRange: { tag: 42, codec: DeleteRangeRequest },
  txn: { tag: 50, codec: TxnRequest },
};
const HEADER_TAG = 802; // field 100
const writer = new ReusedWriter(() => new BinaryWriter());

/** Every field at its default, as a decoded message has them (copied per proposal). */
const EMPTY: InternalRaftRequest = InternalRaftRequest.create();

/** `fields` plus `header`, encoded; the same bytes as `InternalRaftRequest.encode(fromPartial(...))`. */
export function encodeProposal(fields: Partial<InternalRaftRequest>, header: RequestHeader): Proposal {
  let only: string | undefined;
  let count = 0;
  for (const k in fields) {
    const v = (fields as Record<string, unknown>)[k];
    if (v === undefined || v === null) continue; // absent, as fromPartial reads it
    only = k;
    count++;
  }
  const direct = count === 1 && only !== undefined ? DIRECT[only] : undefined;
  if (direct === undefined || only === undefined) {
    const request = InternalRaftRequest.fromPartial({ ...fields, header });
    return { request, data: InternalRaftRequest.encode(request).finish() };
  }
  const request: InternalRaftRequest = { ...EMPTY };
  const sub = direct.codec.fromPartial((fields as Record<string, never>)[only]!);
  (request as unknown as Record<string, unknown>)[only] = sub;
  request.header = { ID: header.ID, username: header.username, authRevision: header.authRevision };
  const h = request.header;
  const data = writer.encode((w) => {
    RequestHeader.encode(h, w.uint32(HEADER_TAG).fork()).join();
    direct.codec.encode(sub as never, w.uint32(direct.tag).fork()).join();
  });
  return { request, data };
}

/**
 * The messages this member proposed, by the identity of their entry bytes, until it applies them.
 * Raft keeps a proposal's `data` object from `propose` to the committed entry on the member that
 * appended it, so the leader finds its own requests here; an entry that came from elsewhere (a
 * follower's copy, a replayed WAL, a forwarded proposal) is not found and is decoded. Entries that
 * are never applied here (lost with a leadership change) leave with their bytes (weak keys).
 */
export class OwnProposals {
  private readonly byData = new WeakMap<Uint8Array, InternalRaftRequest>();
  /** Own entries applied from their message / decoded (for tests and profiles). */
  hits = 0;

  remember(p: Proposal): void {
    this.byData.set(p.data, p.request);
  }

  /** The message of an entry this member proposed (once), else the entry decoded. */
  take(data: Uint8Array): InternalRaftRequest {
    const own = this.byData.get(data);
    if (own === undefined) return InternalRaftRequest.decode(data);
    this.byData.delete(data);
    this.hits++;
    return own;
  }
}
