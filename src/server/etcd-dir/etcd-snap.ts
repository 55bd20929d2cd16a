/**
 * etcd 3.4's raft snapshot files (etcdserver/api/snap): `member/snap/%016x-%016x.snap` (term,
 * index) holding snappb.Snapshot { crc uint32 = 1 (CRC-32C of data), data bytes = 2 }, where data is
 * raftpb.Snapshot { data = 1 (the v2 store as JSON), metadata = 2 { conf_state = 1 { voters = 1,
 * learners = 2, ... }, index = 2, term = 3 } }.
 *
 * Of the v2 store, tsetcd needs only what etcd 3.4 keeps its membership in:
 * `/0/members/<id hex>/raftAttributes` ({"peerURLs": [...], "isLearner": true}),
 * `/0/members/<id hex>/attributes` ({"name": ..., "clientURLs": [...]}), `/0/removed_members/<id>`
 * and `/0/version` (the cluster version).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../../pkg/index.js';
import { EtcdDirError } from './errors.js';
import type { EtcdSnapshotMark } from './etcd-wal.js';
import { ProtoFields } from './protobuf.js';

/** A member as etcd 3.4's membership keeps it. */
export interface EtcdMemberRecord {
  id: bigint;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** What tsetcd takes from an etcd raft snapshot. */
export interface EtcdRaftSnapshot {
  file: string;
  index: number;
  term: number;
  voters: bigint[];
  learners: bigint[];
  members: EtcdMemberRecord[];
  removed: bigint[];
  clusterVersion: string | undefined;
}

/**
 * etcd's Snapshotter.LoadNewestAvailable: the newest `.snap` file that loads (CRC good) and whose
 * (index, term) is one of `marks`; undefined when none is (then the log starts at index 0). A file
 * that does not load is skipped, as etcd skips it (etcd also renames it `.broken`; the import
 * changes no etcd file), and reported through `warn`.
 */
export function loadNewestEtcdSnapshot(
  snapDir: string,
  marks: EtcdSnapshotMark[],
  warn: (file: string, why: string) => void,
): EtcdRaftSnapshot | undefined {
  let names: string[];
  try {
    names = readdirSync(snapDir)
      .filter((n) => n.endsWith('.snap'))
      .sort()
      .reverse();
  } catch (e) {
    throw new EtcdDirError(snapDir, (e as Error).message);
  }
  for (const name of names) {
    const file = join(snapDir, name);
    let snap: EtcdRaftSnapshot;
    try {
      snap = readEtcdSnapshot(file);
    } catch (e) {
      warn(file, (e as Error).message);
      continue;
    }
    if (marks.some((m) => m.index === snap.index && m.term === snap.term)) return snap;
  }
  return undefined;
}

/** Reads and checks one `.snap` file; throws EtcdDirError naming it. */
export function readEtcdSnapshot(file: string): EtcdRaftSnapshot {
  const fail = (what: string): never => {
    throw new EtcdDirError(file, what);
  };
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    return fail((e as Error).message);
  }
  try {
    const outer = new ProtoFields(buf, 'snappb.Snapshot');
    const crc = Number(outer.uint(1, 'snappb.Snapshot') & 0xffffffffn);
    const data = outer.bytes(2, 'snappb.Snapshot');
    if (data.length === 0 || crc === 0) fail('snap: empty snapshot');
    if (crc32c(data) >>> 0 !== crc) fail('snap: crc mismatch');
    const snap = new ProtoFields(data, 'raftpb.Snapshot');
    const meta = new ProtoFields(snap.bytes(2, 'raftpb.Snapshot'), 'raftpb.SnapshotMetadata');
    const conf = new ProtoFields(meta.bytes(1, 'raftpb.SnapshotMetadata'), 'raftpb.ConfState');
    if (conf.uints(3, 'raftpb.ConfState').length > 0 || conf.uints(4, 'raftpb.ConfState').length > 0)
      fail('a snapshot in joint consensus (etcd 3.4 never takes one)');
    const v2 = parseV2Store(snap.bytes(1, 'raftpb.Snapshot'), fail);
    return {
      file,
      index: meta.num(2, 'raftpb.SnapshotMetadata'),
      term: meta.num(3, 'raftpb.SnapshotMetadata'),
      voters: conf.uints(1, 'raftpb.ConfState'),
      learners: conf.uints(2, 'raftpb.ConfState'),
      ...v2,
    };
  } catch (e) {
    if (e instanceof EtcdDirError) throw e;
    return fail((e as Error).message);
  }
}

interface V2Node {
  Value?: string;
  Children?: Record<string, V2Node> | null;
}

/** The membership part of etcd's v2 store JSON (store.Save). */
function parseV2Store(
  data: Buffer,
  fail: (what: string) => never,
): Pick<EtcdRaftSnapshot, 'members' | 'removed' | 'clusterVersion'> {
  let root: V2Node;
  try {
    root = (JSON.parse(data.toString('utf8')) as { Root: V2Node }).Root;
  } catch (e) {
    return fail(`the v2 store in the snapshot is not JSON: ${(e as Error).message}`);
  }
  const cluster = root?.Children?.['0'];
  const members: EtcdMemberRecord[] = [];
  for (const [hex, node] of Object.entries(cluster?.Children?.members?.Children ?? {})) {
    const id = hexId(hex, fail);
    const raft = parseJson(node.Children?.raftAttributes?.Value, fail) as {
      peerURLs?: string[];
      isLearner?: boolean;
    };
    const attrs = parseJson(node.Children?.attributes?.Value, fail) as {
      name?: string;
      clientURLs?: string[];
    };
    members.push({
      id,
      name: attrs.name ?? '',
      peerUrls: raft.peerURLs ?? [],
      clientUrls: attrs.clientURLs ?? [],
      isLearner: raft.isLearner ?? false,
    });
  }
  const removed = Object.keys(cluster?.Children?.removed_members?.Children ?? {}).map((h) => hexId(h, fail));
  return { members, removed, clusterVersion: cluster?.Children?.version?.Value || undefined };
}

function hexId(hex: string, fail: (what: string) => never): bigint {
  if (!/^[0-9a-f]{1,16}$/.test(hex)) fail(`v2 store: member key ${JSON.stringify(hex)} is not an id`);
  return BigInt(`0x${hex}`);
}

function parseJson(v: string | undefined, fail: (what: string) => never): object {
  if (v === undefined || v === '') return {};
  try {
    return JSON.parse(v) as object;
  } catch {
    return fail(`v2 store: member value ${JSON.stringify(v.slice(0, 80))} is not JSON`);
  }
}
