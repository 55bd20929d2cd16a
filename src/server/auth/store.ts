/**
 * The auth store, as etcd 3.4's (auth/store.go, etcdserver/apply_auth.go): users, roles, their key
 * permissions, the enabled flag and the auth revision, changed only by applying committed entries,
 * so every member holds the same state; persisted as auxiliary records of the MVCC store in the
 * entry's write txn, so it survives restarts, Raft snapshots, `snapshot save/restore` and defragment
 * exactly as the keys do.
 *
 * The auth revision starts at 1 and grows by one with every change of users, roles or permissions
 * and with AuthDisable (not AuthEnable, as etcd). A request carries the revision its token was checked
 * at; a write applied after a later change is refused with "revision of auth store is old".
 *
 * Records (aux keys): `auth/enabled` (1 byte), `auth/revision` (8 bytes BE),
 * `authUsers/<name>` (authpb.User), `authRoles/<name>` (authpb.Role).
 */
import { type Permission, Permission_Type, Role, User } from '../../proto/authpb/auth.js';
import type {
  InternalAuthenticateRequest,
  InternalRaftRequest,
} from '../../proto/etcdserverpb/raft_internal.js';
import type { RequestOp, TxnRequest } from '../../proto/etcdserverpb/rpc.js';
import { etcdError } from '../../wire/errors.js';
import { RangePermissions } from './perms.js';
import type { AuthInfo, TokenProvider } from './tokens.js';

/** The part of the MVCC store the auth store persists through. */
export interface AuthBackend {
  /** Sets (undefined: deletes) an auxiliary record; only inside the applying entry's write txn. */
  setAux(key: Buffer, value: Buffer | undefined): void;
  auxRecords(prefix: Buffer): { key: Buffer; value: Buffer }[];
}

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

const ENABLED_KEY = Buffer.from('auth/enabled');
const REVISION_KEY = Buffer.from('auth/revision');
const USERS_PREFIX = Buffer.from('authUsers/');
const ROLES_PREFIX = Buffer.from('authRoles/');
const EMPTY = Buffer.alloc(0);

/** Compares strings as Go does (bytes of their UTF-8 form), the order of etcd's bolt buckets. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** An Authenticate entry applied: the token (simple) or what the edge signs (JWT). */
export interface AuthenticateResult {
  token: string | undefined;
  username: string;
  revision: bigint;
}

export class AuthStore {
  private enabledFlag = false;
  private rev = 1n;
  private users = new Map<string, User>();
  private roles = new Map<string, Role>();
  /** Merged permissions per user, rebuilt lazily after every change (etcd's rangePermCache). */
  private readonly permCache = new Map<string, RangePermissions>();

  constructor(
    private backend: AuthBackend,
    readonly tokens: TokenProvider,
  ) {
    this.load();
  }

  /** Reloads everything from a new backend (after a snapshot install or defragment). */
  reload(backend: AuthBackend): void {
    this.backend = backend;
    const wasEnabled = this.enabledFlag;
    this.load();
    if (wasEnabled && !this.enabledFlag) this.tokens.disable();
  }

  private load(): void {
    this.users = new Map();
    this.roles = new Map();
    this.permCache.clear();
    this.enabledFlag = false;
    this.rev = 1n;
    for (const { key, value } of this.backend.auxRecords(Buffer.from('auth/'))) {
      if (key.equals(ENABLED_KEY)) this.enabledFlag = value.length === 1 && value[0] === 1;
      if (key.equals(REVISION_KEY) && value.length === 8) this.rev = value.readBigUInt64BE(0);
    }
    for (const { value } of this.backend.auxRecords(USERS_PREFIX)) {
      const u = User.decode(value);
      this.users.set(u.name.toString(), u);
    }
    for (const { value } of this.backend.auxRecords(ROLES_PREFIX)) {
      const r = Role.decode(value);
      this.roles.set(r.name.toString(), r);
    }
    if (this.enabledFlag) this.tokens.enable();
  }

  get enabled(): boolean {
    return this.enabledFlag;
  }

  /** The auth revision (starts at 1). */
  get revision(): bigint {
    return this.rev;
  }

  // ---- checks (etcd's Is*Permitted) ----

  /**
   * etcd's isOpPermitted: nothing to check while auth is disabled; otherwise a request without a user
   * is "user name is empty", one checked at an older auth revision is "revision of auth store is
   * old", an unknown user or a range the user's roles do not cover is "permission denied".
   */
  private checkOp(ai: AuthInfo | undefined, key: Buffer, rangeEnd: Buffer, type: Permission_Type): void {
    if (!this.enabledFlag) return;
    if (!ai || ai.revision === 0n) throw etcdError('userEmpty');
    if (ai.revision < this.rev) throw etcdError('authOldRevision');
    const user = this.users.get(ai.username);
    if (!user) throw etcdError('permissionDenied');
    if (hasRootRole(user)) return;
    const perms = this.permissionsOf(ai.username, user);
    if (!perms.permits(type as Permission_Type.READ | Permission_Type.WRITE, key, rangeEnd)) {
      throw etcdError('permissionDenied');
    }
  }

  checkRange(ai: AuthInfo | undefined, key: Buffer, rangeEnd: Buffer): void {
    this.checkOp(ai, key, rangeEnd, Permission_Type.READ);
  }

  checkPut(ai: AuthInfo | undefined, key: Buffer): void {
    this.checkOp(ai, key, EMPTY, Permission_Type.WRITE);
  }

  checkDeleteRange(ai: AuthInfo | undefined, key: Buffer, rangeEnd: Buffer): void {
    this.checkOp(ai, key, rangeEnd, Permission_Type.WRITE);
  }

  /** etcd's IsAdminPermitted: the user must hold the root role. */
  checkAdmin(ai: AuthInfo | undefined): void {
    if (!this.enabledFlag) return;
    if (!ai || ai.username === '') throw etcdError('userEmpty');
    const u = this.users.get(ai.username);
    if (!u) throw etcdError('userNotFound');
    if (!hasRootRole(u)) throw etcdError('permissionDenied');
  }

  /**
   * etcd's checkTxnAuth: read on every compare, and on every op of both branches its own check.
   * Unlike etcd 3.4 (which skips them), ops of nested txns are checked too: skipping them would let a
   * user write outside its permissions by wrapping the write in a nested txn.
   */
  checkTxn(ai: AuthInfo | undefined, t: TxnRequest): void {
    for (const c of t.compare) this.checkRange(ai, c.key, c.rangeEnd);
    this.checkOps(ai, t.success);
    this.checkOps(ai, t.failure);
  }

  private checkOps(ai: AuthInfo | undefined, ops: readonly RequestOp[]): void {
    for (const op of ops) {
      if (op.requestRange) this.checkRange(ai, op.requestRange.key, op.requestRange.rangeEnd);
      else if (op.requestPut) this.checkPut(ai, op.requestPut.key);
      else if (op.requestDeleteRange) {
        const d = op.requestDeleteRange;
        if (d.prevKv) this.checkRange(ai, d.key, d.rangeEnd);
        this.checkDeleteRange(ai, d.key, d.rangeEnd);
      } else if (op.requestTxn) this.checkTxn(ai, op.requestTxn);
    }
  }

  /** The identity of the member's own requests (lease expiry, ...), etcd's WithRoot. */
  asRoot(): AuthInfo {
    return { username: ROOT_USER, revision: this.rev };
  }

  hasRole(username: string, role: string): boolean {
    return this.users.get(username)?.roles.includes(role) ?? false;
  }

  /**
   * The checks etcd's auth applier makes before applying `req` as the user in its header; throws the
   * refusal. `leaseKeys` lists the keys attached to a lease (undefined: no such lease).
   */
  checkApply(req: InternalRaftRequest, leaseKeys: (id: bigint) => Iterable<string> | undefined): void {
    if (!this.enabledFlag) return; // every check below passes with auth disabled, as etcd's
    const ai: AuthInfo = { username: req.header?.username ?? '', revision: req.header?.authRevision ?? 0n };
    if (needsAdmin(req)) this.checkAdmin(ai);
    const checkLeasePuts = (id: bigint) => {
      for (const k of leaseKeys(id) ?? []) this.checkPut(ai, Buffer.from(k, 'latin1'));
    };
    if (req.put) {
      this.checkPut(ai, req.put.key);
      checkLeasePuts(req.put.lease);
      if (req.put.prevKv) this.checkRange(ai, req.put.key, EMPTY);
    } else if (req.deleteRange) {
      const d = req.deleteRange;
      this.checkDeleteRange(ai, d.key, d.rangeEnd);
      if (d.prevKv) this.checkRange(ai, d.key, d.rangeEnd);
    } else if (req.txn) {
      this.checkTxn(ai, req.txn);
    } else if (req.leaseRevoke) {
      checkLeasePuts(req.leaseRevoke.ID);
    } else if (req.authUserGet) {
      // A user may read its own record; reading others' needs root.
      try {
        this.checkAdmin(ai);
      } catch (err) {
        if (req.authUserGet.name !== ai.username) throw err;
      }
    } else if (req.authRoleGet) {
      // A user may read the roles it holds.
      try {
        this.checkAdmin(ai);
      } catch (err) {
        if (!this.hasRole(ai.username, req.authRoleGet.role)) throw err;
      }
    }
  }

  // ---- password check (the API edge, before proposing Authenticate) ----

  /**
   * etcd's CheckPassword up to the bcrypt comparison: the stored hash and the revision it was read
   * at. Throws "authentication is not enabled", "authentication failed" (unknown user), or etcd's
   * untranslated no-password-user error.
   */
  passwordOf(name: string): { hash: string; revision: bigint } {
    if (!this.enabledFlag) throw etcdError('authNotEnabled');
    const u = this.users.get(name);
    if (!u) throw etcdError('authFailed');
    if (u.options?.noPassword) throw etcdError('noPasswordUser');
    return { hash: u.password.toString(), revision: this.rev };
  }

  // ---- apply (one committed entry; the caller holds the entry's write txn open) ----

  /** Whether `req` is one of the auth requests `apply` handles. */
  static handles(req: InternalRaftRequest): boolean {
    return (
      req.authEnable !== undefined ||
      req.authDisable !== undefined ||
      req.authenticate !== undefined ||
      req.authUserAdd !== undefined ||
      req.authUserDelete !== undefined ||
      req.authUserGet !== undefined ||
      req.authUserChangePassword !== undefined ||
      req.authUserGrantRole !== undefined ||
      req.authUserRevokeRole !== undefined ||
      req.authUserList !== undefined ||
      req.authRoleList !== undefined ||
      req.authRoleAdd !== undefined ||
      req.authRoleDelete !== undefined ||
      req.authRoleGet !== undefined ||
      req.authRoleGrantPermission !== undefined ||
      req.authRoleRevokePermission !== undefined
    );
  }

  /**
   * Applies one auth request at raft index `index`; returns the response body (without header) or
   * throws etcd's error. Mutations persist through the backend's aux records.
   */
  apply(req: InternalRaftRequest, index: number): unknown {
    if (req.authEnable) return this.authEnable();
    if (req.authDisable) return this.authDisable();
    if (req.authenticate) return this.authenticate(req.authenticate, index);
    if (req.authUserAdd) {
      const r = req.authUserAdd;
      if (r.name.length === 0) throw etcdError('userEmpty');
      if (this.users.has(r.name)) throw etcdError('userAlreadyExist');
      const noPassword = r.options?.noPassword === true;
      this.putUser({
        name: Buffer.from(r.name),
        password: noPassword ? EMPTY : Buffer.from(r.hashedPassword),
        roles: [],
        options: { noPassword },
      });
      this.commitRevision();
      return {};
    }
    if (req.authUserDelete) {
      const name = req.authUserDelete.name;
      if (this.enabledFlag && name === ROOT_USER) throw etcdError('invalidAuthMgmt');
      if (!this.users.has(name)) throw etcdError('userNotFound');
      this.users.delete(name);
      this.backend.setAux(Buffer.concat([USERS_PREFIX, Buffer.from(name)]), undefined);
      this.commitRevision();
      this.tokens.invalidateUser(name);
      return {};
    }
    if (req.authUserChangePassword) {
      const r = req.authUserChangePassword;
      const u = this.users.get(r.name);
      if (!u) throw etcdError('userNotFound');
      this.putUser({ ...u, password: Buffer.from(r.hashedPassword) });
      this.commitRevision();
      this.tokens.invalidateUser(r.name);
      return {};
    }
    if (req.authUserGrantRole) {
      const r = req.authUserGrantRole;
      const u = this.users.get(r.user);
      if (!u) throw etcdError('userNotFound');
      if (r.role !== ROOT_ROLE && !this.roles.has(r.role)) throw etcdError('roleNotFound');
      if (u.roles.includes(r.role)) return {};
      this.putUser({ ...u, roles: [...u.roles, r.role].sort(byteOrder) });
      this.commitRevision();
      return {};
    }
    if (req.authUserGet) {
      const u = this.users.get(req.authUserGet.name);
      if (!u) throw etcdError('userNotFound');
      return { roles: [...u.roles] };
    }
    if (req.authUserList) return { users: [...this.users.keys()].sort(byteOrder) };
    if (req.authUserRevokeRole) {
      const r = req.authUserRevokeRole;
      if (this.enabledFlag && r.name === ROOT_USER && r.role === ROOT_ROLE)
        throw etcdError('invalidAuthMgmt');
      const u = this.users.get(r.name);
      if (!u) throw etcdError('userNotFound');
      const roles = u.roles.filter((x) => x !== r.role);
      if (roles.length === u.roles.length) throw etcdError('roleNotGranted');
      this.putUser({ ...u, roles });
      this.commitRevision();
      return {};
    }
    if (req.authRoleGet) {
      const role = this.roles.get(req.authRoleGet.role);
      if (!role) throw etcdError('roleNotFound');
      return { perm: role.keyPermission.map((p) => ({ ...p })) };
    }
    if (req.authRoleList) return { roles: [...this.roles.keys()].sort(byteOrder) };
    if (req.authRoleRevokePermission) {
      const r = req.authRoleRevokePermission;
      const role = this.roles.get(r.role);
      if (!role) throw etcdError('roleNotFound');
      const kept = role.keyPermission.filter((p) => !p.key.equals(r.key) || !p.rangeEnd.equals(r.rangeEnd));
      if (kept.length === role.keyPermission.length) throw etcdError('permissionNotGranted');
      this.putRole({ name: role.name, keyPermission: kept });
      this.commitRevision();
      return {};
    }
    if (req.authRoleDelete) {
      const name = req.authRoleDelete.role;
      if (this.enabledFlag && name === ROOT_ROLE) throw etcdError('invalidAuthMgmt');
      if (!this.roles.has(name)) throw etcdError('roleNotFound');
      this.roles.delete(name);
      this.backend.setAux(Buffer.concat([ROLES_PREFIX, Buffer.from(name)]), undefined);
      for (const u of [...this.users.values()]) {
        if (u.roles.includes(name)) this.putUser({ ...u, roles: u.roles.filter((x) => x !== name) });
      }
      this.commitRevision();
      return {};
    }
    if (req.authRoleAdd) {
      const name = req.authRoleAdd.name;
      if (name.length === 0) throw etcdError('roleEmpty');
      if (this.roles.has(name)) throw etcdError('roleAlreadyExist');
      this.putRole({ name: Buffer.from(name), keyPermission: [] });
      this.commitRevision();
      return {};
    }
    if (req.authRoleGrantPermission) {
      const r = req.authRoleGrantPermission;
      const role = this.roles.get(r.name);
      if (!role) throw etcdError('roleNotFound');
      const p: Permission = {
        permType: r.perm?.permType ?? Permission_Type.READ,
        key: r.perm?.key ?? EMPTY,
        rangeEnd: r.perm?.rangeEnd ?? EMPTY,
      };
      const perms = role.keyPermission.map((x) => ({ ...x }));
      // etcd looks only at the first permission whose key is >= the new one's (sort.Search).
      const idx = perms.findIndex((x) => Buffer.compare(x.key, p.key) >= 0);
      const at = idx < 0 ? undefined : perms[idx];
      if (at?.key.equals(p.key) && at.rangeEnd.equals(p.rangeEnd)) at.permType = p.permType;
      else {
        perms.push(p);
        perms.sort((a, b) => Buffer.compare(a.key, b.key));
      }
      this.putRole({ name: role.name, keyPermission: perms });
      this.commitRevision();
      return {};
    }
    throw new Error('not an auth request');
  }

  private authEnable(): unknown {
    if (this.enabledFlag) return {};
    const root = this.users.get(ROOT_USER);
    if (!root) throw etcdError('rootUserNotExist');
    if (!hasRootRole(root)) throw etcdError('rootRoleNotExist');
    this.enabledFlag = true;
    this.backend.setAux(ENABLED_KEY, Buffer.from([1]));
    this.tokens.enable();
    this.permCache.clear();
    return {};
  }

  private authDisable(): unknown {
    if (!this.enabledFlag) return {};
    this.enabledFlag = false;
    this.backend.setAux(ENABLED_KEY, Buffer.from([0]));
    this.commitRevision();
    this.tokens.disable();
    return {};
  }

  private authenticate(r: InternalAuthenticateRequest, index: number): AuthenticateResult {
    if (!this.enabledFlag) throw etcdError('authNotEnabled');
    const u = this.users.get(r.name);
    if (!u) throw etcdError('authFailed');
    if (u.options?.noPassword) throw etcdError('authFailed');
    const token = this.tokens.assignAtApply(r.name, index, r.simpleToken);
    return { token, username: r.name, revision: this.rev };
  }

  private putUser(u: User): void {
    const name = u.name.toString();
    this.users.set(name, u);
    this.backend.setAux(Buffer.concat([USERS_PREFIX, u.name]), Buffer.from(User.encode(u).finish()));
  }

  private putRole(r: Role): void {
    this.roles.set(r.name.toString(), r);
    this.backend.setAux(Buffer.concat([ROLES_PREFIX, r.name]), Buffer.from(Role.encode(r).finish()));
  }

  private commitRevision(): void {
    this.rev += 1n;
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(this.rev);
    this.backend.setAux(REVISION_KEY, b);
    this.permCache.clear();
  }

  private permissionsOf(name: string, user: User): RangePermissions {
    let p = this.permCache.get(name);
    if (!p) {
      const perms: Permission[] = [];
      for (const roleName of user.roles) perms.push(...(this.roles.get(roleName)?.keyPermission ?? []));
      p = new RangePermissions(perms);
      this.permCache.set(name, p);
    }
    return p;
  }
}

function hasRootRole(u: User): boolean {
  return u.roles.includes(ROOT_ROLE);
}

/** etcd's needAdminPermission: the auth requests only root may make. */
function needsAdmin(r: InternalRaftRequest): boolean {
  return (
    r.authEnable !== undefined ||
    r.authDisable !== undefined ||
    r.authUserAdd !== undefined ||
    r.authUserDelete !== undefined ||
    r.authUserChangePassword !== undefined ||
    r.authUserGrantRole !== undefined ||
    r.authUserRevokeRole !== undefined ||
    r.authRoleAdd !== undefined ||
    r.authRoleGrantPermission !== undefined ||
    r.authRoleRevokePermission !== undefined ||
    r.authRoleDelete !== undefined ||
    r.authUserList !== undefined ||
    r.authRoleList !== undefined
  );
}
