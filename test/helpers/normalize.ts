/**
 * Makes outputs of two different servers comparable: cluster ids, member ids and raft terms differ
 * between any two clusters (they come from ports, names, time and elections), so they become
 * placeholders. Revisions are kept: both stores start at revision 1 and must agree.
 */

/** Ids to replace wherever they appear (decimal, hex, bigint), with the placeholder to use. */
export type IdMap = ReadonlyMap<bigint, string>;

/** Builds an IdMap for one member: its cluster id and member id. */
export function idMap(clusterId: bigint, memberId: bigint): IdMap {
  return new Map([
    [clusterId, '<cluster_id>'],
    [memberId, '<member_id>'],
  ]);
}

/** Header fields that are replaced by placeholders (gRPC object form, and etcdctl JSON form). */
const HEADER_PLACEHOLDERS: Record<string, string> = {
  clusterId: '<cluster_id>',
  memberId: '<member_id>',
  raftTerm: '<raft_term>',
  cluster_id: '<cluster_id>',
  member_id: '<member_id>',
  raft_term: '<raft_term>',
};

/**
 * Normalizes etcdctl text output: drops the client library's JSON log lines ({"level":"warn",...},
 * which carry timestamps and random ids), replaces header ids and terms in JSON output, and every
 * known id in decimal or hex form.
 */
export function normalizeText(s: string, ids: IdMap = new Map()): string {
  let out = s
    .split('\n')
    .filter((line) => !/^\{"level":"[a-z]+","ts":/.test(line))
    .join('\n');
  out = out.replace(
    /"(cluster_id|member_id|raft_term)":\d+/g,
    (_m, k: string) => `"${k}":"${HEADER_PLACEHOLDERS[k]}"`,
  );
  // `-w fields` prints the header as "ClusterID" : 123 lines.
  out = out.replace(/"(ClusterID|MemberID|RaftTerm)" : \d+/g, (_m, k: string) => `"${k}" : <${k}>`);
  for (const [id, name] of ids) {
    if (id === 0n) continue;
    out = out.replace(new RegExp(`\\b${id.toString()}\\b`, 'g'), name);
    out = out.replace(new RegExp(`\\b${id.toString(16)}\\b`, 'gi'), name);
  }
  return out;
}

/**
 * Normalizes a decoded protobuf value into plain JSON-able data: bytes become strings (utf8 when
 * printable, else "hex:..."), bigints become decimal strings, header ids and terms become
 * placeholders, and any field whose value is a known id becomes that id's placeholder.
 */
export function normalizeValue(v: unknown, ids: IdMap = new Map()): unknown {
  if (typeof v === 'bigint') return ids.get(v) ?? v.toString();
  if (v instanceof Uint8Array) {
    const buf = Buffer.from(v);
    const s = buf.toString('utf8');
    return /^[\x20-\x7e]*$/.test(s) ? s : `hex:${buf.toString('hex')}`;
  }
  if (Array.isArray(v)) return v.map((x) => normalizeValue(x, ids));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      const ph = HEADER_PLACEHOLDERS[k];
      out[k] =
        ph !== undefined && (typeof x === 'bigint' || typeof x === 'number') ? ph : normalizeValue(x, ids);
    }
    return out;
  }
  return v;
}

/** normalizeText for strings, normalizeValue for everything else. */
export function normalize(x: unknown, ids: IdMap = new Map()): unknown {
  return typeof x === 'string' ? normalizeText(x, ids) : normalizeValue(x, ids);
}
