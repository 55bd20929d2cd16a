/**
 * Lock, election, cluster (member), maintenance and auth calls. Lock and election use etcd's
 * v3lock/v3election services and return the fencing revision: the create revision of the key that
 * holds the lock or the leadership, which grows with every new holder — pass it along with writes
 * guarded by the lock (`cmp.createRevision(key, '=', rev)` or a mod-revision check) so a paused old
 * holder cannot act after losing it.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
import {
  AlarmRequest,
  AlarmRequest_AlarmAction,
  type AlarmResponse,
  AlarmType,
  type AuthenticateResponse,
  AuthService,
  ClusterService,
  type DefragmentResponse,
  type HashKVResponse,
  KVService,
  MaintenanceService,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateResponse,
  type MoveLeaderResponse,
  RangeRequest,
  type SnapshotResponse,
  type StatusResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { KeyValue } from '../proto/mvccpb/kv.js';
import { ElectionService, type LeaderKey, type LeaderResponse } from '../proto/v3electionpb/v3election.js';
import { LockService } from '../proto/v3lockpb/v3lock.js';
import type { CallOpts, Connection } from './connection.js';
import { fromGrpc } from './errors.js';
import { type Bytes, toBuf } from './kv.js';

/** A held lock: its key, the fencing revision, and `unlock()`. */
export interface HeldLock {
  key: Buffer;
  /** The create revision of `key`: strictly greater than every earlier holder's. */
  fencingRevision: bigint;
  unlock(o?: CallOpts): Promise<void>;
}

/** etcd's v3lock service. */
export class Locks {
  constructor(private readonly conn: Connection) {}

  /**
   * Waits for the lock `name`, held for as long as `lease` lives (grant one with keep-alive and watch
   * its `lost`). A mutation: not retried unless asked, since a retried Lock could hold two keys.
   */
  async lock(name: Bytes, lease: bigint, o: CallOpts = {}): Promise<HeldLock> {
    const r = await this.conn.unary(LockService.lock, { name: toBuf(name), lease }, { mutation: true }, o);
    // The lock key's create revision is its place in the queue; LockResponse's header revision is
    // the store's revision when the lock was granted, which is >= it. Read the key to report the former.
    const kv = await keyOf(this.conn, r.key);
    return {
      key: r.key,
      fencingRevision: kv?.createRevision ?? r.header?.revision ?? 0n,
      unlock: async (uo: CallOpts = {}) => {
        await this.conn.unary(LockService.unlock, { key: r.key }, { mutation: true }, uo);
      },
    };
  }
}

async function keyOf(conn: Connection, key: Buffer): Promise<KeyValue | undefined> {
  const r = await conn.unary(KVService.range, RangeRequest.fromPartial({ key }), { mutation: false });
  return r.kvs[0];
}

/** Leadership won in an election: the key, its fencing revision (`leader.rev`), and the calls of a leader. */
export interface Leadership {
  leader: LeaderKey;
  fencingRevision: bigint;
  proclaim(value: Bytes, o?: CallOpts): Promise<void>;
  resign(o?: CallOpts): Promise<void>;
}

/** etcd's v3election service. */
export class Elections {
  constructor(private readonly conn: Connection) {}

  /** Waits until this client leads election `name` with `value`, for as long as `lease` lives. */
  async campaign(name: Bytes, value: Bytes, lease: bigint, o: CallOpts = {}): Promise<Leadership> {
    const r = await this.conn.unary(
      ElectionService.campaign,
      { name: toBuf(name), lease, value: toBuf(value) },
      { mutation: true },
      o,
    );
    const leader = r.leader!;
    return {
      leader,
      fencingRevision: leader.rev,
      proclaim: async (v, po = {}) => {
        await this.conn.unary(ElectionService.proclaim, { leader, value: toBuf(v) }, { mutation: true }, po);
      },
      resign: async (ro = {}) => {
        await this.conn.unary(ElectionService.resign, { leader }, { mutation: true }, ro);
      },
    };
  }

  /** The current leader's key-value (rejects with "election: no leader" when there is none). */
  leader(name: Bytes, o: CallOpts = {}): Promise<LeaderResponse> {
    return this.conn.unary(ElectionService.leader, { name: toBuf(name) }, { mutation: false }, o);
  }

  /** Every change of leader, as etcd's Observe stream sends them. */
  async *observe(name: Bytes, o: CallOpts = {}): AsyncGenerator<LeaderResponse> {
    const md = await this.conn.metadata();
    const s = this.conn
      .channel()
      .makeServerStreamRequest(
        ElectionService.observe.path,
        ElectionService.observe.requestSerialize,
        ElectionService.observe.responseDeserialize,
        { name: toBuf(name) },
        md,
        this.conn.callOptions(o),
      );
    yield* readStream<LeaderResponse>(s);
  }
}

async function* readStream<T>(s: ClientReadableStream<T>): AsyncGenerator<T> {
  try {
    for await (const r of s) yield r as T;
  } catch (e) {
    throw fromGrpc(e);
  } finally {
    s.cancel();
  }
}

/** The Cluster service. */
export class Cluster {
  constructor(private readonly conn: Connection) {}

  list(o: CallOpts & { linearizable?: boolean } = {}): Promise<MemberListResponse> {
    return this.conn.unary(
      ClusterService.memberList,
      { linearizable: o.linearizable ?? false },
      { mutation: false },
      o,
    );
  }
  add(peerURLs: string[], o: CallOpts & { learner?: boolean } = {}): Promise<MemberAddResponse> {
    return this.conn.unary(
      ClusterService.memberAdd,
      { peerURLs, isLearner: o.learner ?? false },
      { mutation: true },
      o,
    );
  }
  remove(id: bigint, o: CallOpts = {}): Promise<MemberRemoveResponse> {
    return this.conn.unary(ClusterService.memberRemove, { ID: id }, { mutation: true }, o);
  }
  update(id: bigint, peerURLs: string[], o: CallOpts = {}): Promise<MemberUpdateResponse> {
    return this.conn.unary(ClusterService.memberUpdate, { ID: id, peerURLs }, { mutation: true }, o);
  }
  promote(id: bigint, o: CallOpts = {}): Promise<MemberPromoteResponse> {
    return this.conn.unary(ClusterService.memberPromote, { ID: id }, { mutation: true }, o);
  }
}

/**
 * The Maintenance service. Status, defragment, hash and snapshot go to one member: a Client on that
 * member's endpoint alone (`client.forEndpoint(ep)`) picks which.
 */
export class Maintenance {
  constructor(private readonly conn: Connection) {}

  status(o: CallOpts = {}): Promise<StatusResponse> {
    return this.conn.unary(MaintenanceService.status, {}, { mutation: false }, o);
  }
  defragment(o: CallOpts = {}): Promise<DefragmentResponse> {
    return this.conn.unary(MaintenanceService.defragment, {}, { mutation: false }, o);
  }
  hashKv(revision = 0n, o: CallOpts = {}): Promise<HashKVResponse> {
    return this.conn.unary(MaintenanceService.hashKv, { revision }, { mutation: false }, o);
  }
  /** Alarms: 'get' lists them, 'activate' raises one, 'deactivate' disarms one (memberId 0n = all). */
  alarm(
    action: 'get' | 'activate' | 'deactivate' = 'get',
    o: CallOpts & { memberId?: bigint; alarm?: AlarmType } = {},
  ): Promise<AlarmResponse> {
    const actions = {
      get: AlarmRequest_AlarmAction.GET,
      activate: AlarmRequest_AlarmAction.ACTIVATE,
      deactivate: AlarmRequest_AlarmAction.DEACTIVATE,
    } as const;
    const req = AlarmRequest.fromPartial({
      action: actions[action],
      memberID: o.memberId ?? 0n,
      alarm: o.alarm ?? AlarmType.NONE,
    });
    return this.conn.unary(MaintenanceService.alarm, req, { mutation: action !== 'get' }, o);
  }
  /** Moves leadership to `targetId` (must be sent to the current leader). */
  moveLeader(targetId: bigint, o: CallOpts = {}): Promise<MoveLeaderResponse> {
    return this.conn.unary(MaintenanceService.moveLeader, { targetID: targetId }, { mutation: true }, o);
  }
  /** The member's backend as a stream of chunks (etcd's Snapshot): iterate and write them out in order. */
  async *snapshot(o: CallOpts = {}): AsyncGenerator<SnapshotResponse> {
    const md = await this.conn.metadata();
    const s = this.conn
      .channel()
      .makeServerStreamRequest(
        MaintenanceService.snapshot.path,
        MaintenanceService.snapshot.requestSerialize,
        MaintenanceService.snapshot.responseDeserialize,
        {},
        md,
        this.conn.callOptions(o),
      );
    yield* readStream<SnapshotResponse>(s);
  }
}

/** The Auth service: `authenticate` sets the client's token; the rest manage users and roles. */
export class Auth {
  constructor(private readonly conn: Connection) {}

  /** User/password → token; later calls of this client send it. */
  async authenticate(name: string, password: string, o: CallOpts = {}): Promise<AuthenticateResponse> {
    const r = await this.rawAuthenticate(name, password, o);
    this.conn.setToken(r.token);
    return r;
  }

  /** Authenticate without keeping the token. */
  rawAuthenticate(name: string, password: string, o: CallOpts = {}): Promise<AuthenticateResponse> {
    return this.conn.unary(
      AuthService.authenticate,
      { name, password },
      { mutation: false, noAuth: true },
      o,
    );
  }

  enable(o: CallOpts = {}) {
    return this.conn.unary(AuthService.authEnable, {}, { mutation: true }, o);
  }
  disable(o: CallOpts = {}) {
    return this.conn.unary(AuthService.authDisable, {}, { mutation: true }, o);
  }
  userAdd(name: string, password: string, o: CallOpts & { noPassword?: boolean } = {}) {
    return this.conn.unary(
      AuthService.userAdd,
      { name, password, options: { noPassword: o.noPassword ?? false }, hashedPassword: '' },
      { mutation: true },
      o,
    );
  }
  userGet(name: string, o: CallOpts = {}) {
    return this.conn.unary(AuthService.userGet, { name }, { mutation: false }, o);
  }
  userList(o: CallOpts = {}) {
    return this.conn.unary(AuthService.userList, {}, { mutation: false }, o);
  }
  userDelete(name: string, o: CallOpts = {}) {
    return this.conn.unary(AuthService.userDelete, { name }, { mutation: true }, o);
  }
  userChangePassword(name: string, password: string, o: CallOpts = {}) {
    return this.conn.unary(
      AuthService.userChangePassword,
      { name, password, hashedPassword: '' },
      { mutation: true },
      o,
    );
  }
  userGrantRole(user: string, role: string, o: CallOpts = {}) {
    return this.conn.unary(AuthService.userGrantRole, { user, role }, { mutation: true }, o);
  }
  userRevokeRole(name: string, role: string, o: CallOpts = {}) {
    return this.conn.unary(AuthService.userRevokeRole, { name, role }, { mutation: true }, o);
  }
  roleAdd(name: string, o: CallOpts = {}) {
    return this.conn.unary(AuthService.roleAdd, { name }, { mutation: true }, o);
  }
  roleGet(role: string, o: CallOpts = {}) {
    return this.conn.unary(AuthService.roleGet, { role }, { mutation: false }, o);
  }
  roleList(o: CallOpts = {}) {
    return this.conn.unary(AuthService.roleList, {}, { mutation: false }, o);
  }
  roleDelete(role: string, o: CallOpts = {}) {
    return this.conn.unary(AuthService.roleDelete, { role }, { mutation: true }, o);
  }
  /** Grants read, write or readwrite on [key, rangeEnd) (empty rangeEnd: the one key). */
  roleGrantPermission(
    name: string,
    perm: 'read' | 'write' | 'readwrite',
    key: Bytes,
    rangeEnd: Bytes = '',
    o: CallOpts = {},
  ) {
    const permType = { read: 0, write: 1, readwrite: 2 }[perm];
    return this.conn.unary(
      AuthService.roleGrantPermission,
      { name, perm: { permType, key: toBuf(key), rangeEnd: toBuf(rangeEnd) } },
      { mutation: true },
      o,
    );
  }
  roleRevokePermission(role: string, key: Bytes, rangeEnd: Bytes = '', o: CallOpts = {}) {
    return this.conn.unary(
      AuthService.roleRevokePermission,
      { role, key: toBuf(key), rangeEnd: toBuf(rangeEnd) },
      { mutation: true },
      o,
    );
  }
}
