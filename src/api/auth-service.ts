/**
 * The Auth service (etcdserverpb.Auth) and the API edge of auth for the other services: who a call
 * acts as (its token, or with --client-cert-auth its TLS certificate's common name), and the checks
 * etcd 3.4 makes before a request reaches the log (serialized reads, maintenance and membership
 * calls restricted to root). Writes are checked again where etcd checks them, when their entry is
 * applied (src/server/auth).
 */
import {
  type AuthDisableRequest,
  type AuthEnableRequest,
  type AuthenticateRequest,
  type AuthenticateResponse,
  type AuthRoleAddRequest,
  type AuthRoleDeleteRequest,
  type AuthRoleGetRequest,
  type AuthRoleGrantPermissionRequest,
  type AuthRoleListRequest,
  type AuthRoleRevokePermissionRequest,
  AuthService,
  type AuthUserAddRequest,
  type AuthUserChangePasswordRequest,
  type AuthUserDeleteRequest,
  type AuthUserGetRequest,
  type AuthUserGrantRoleRequest,
  type AuthUserListRequest,
  type AuthUserRevokeRoleRequest,
  type ResponseHeader,
} from '../proto/etcdserverpb/rpc.js';
import type { AuthenticateResult, AuthInfo, Member } from '../server/index.js';
import { etcdError, type WireErrorName } from '../wire/errors.js';
import { GrpcError, Status } from '../wire/status.js';
import type { CallContext, GrpcServer, ServiceDefinition } from './grpc-server.js';
import { fillHeader } from './header.js';

/** The metadata keys etcd reads a token from (rpctypes.TokenFieldNameGRPC, ...Swagger). */
const TOKEN_KEYS = ['token', 'authorization'] as const;

/** How many times Authenticate retries when the auth revision moved while checking the password. */
export const AUTHENTICATE_RETRIES_MAX = 16;

/**
 * Who the call acts as (etcd's AuthInfoFromCtx): the user of its token ("invalid auth token" when the
 * token is not valid here), else, with --client-cert-auth, the common name of its verified client
 * certificate, else nobody (undefined).
 */
export async function authInfoOf(member: Member, ctx: CallContext): Promise<AuthInfo | undefined> {
  for (const k of TOKEN_KEYS) {
    const v = ctx.metadata[k];
    const token = Array.isArray(v) ? v[0] : v;
    if (token === undefined) continue;
    const ai = await member.auth.tokens.info(token);
    if (!ai) throw etcdError('invalidAuthToken');
    return ai;
  }
  if (!member.cfg.clientCertAuth) return undefined;
  const cn = certificateCommonName(ctx);
  // etcd ignores the certificate of its own gRPC gateway, which marks its calls so.
  if (cn === undefined || ctx.metadata['grpcgateway-accept'] !== undefined) return undefined;
  return { username: cn, revision: member.auth.revision };
}

/** The CN of the call's verified TLS client certificate, if it came over TLS with one (src/tls). */
function certificateCommonName(ctx: CallContext): string | undefined {
  return ctx.commonName;
}

/**
 * etcd's doSerialize for reads served locally: check with `chk` as the caller, read, then refuse the
 * answer if the auth store changed meanwhile ("revision of auth store is old").
 */
export async function serialized<T>(
  member: Member,
  ai: AuthInfo | undefined,
  chk: (ai: AuthInfo) => void,
  get: () => Promise<T>,
): Promise<T> {
  const who = ai ?? NOBODY;
  chk(who);
  const out = await get();
  if (who.revision !== 0n && who.revision !== member.auth.revision) throw etcdError('authOldRevision');
  return out;
}

/**
 * The root check of etcd 3.4's Maintenance service (Hash, HashKV, Defragment, Snapshot), which returns
 * the auth package's errors untranslated (UNKNOWN, "auth: ...") instead of the etcdserver ones.
 */
export async function checkAdminRaw(member: Member, ctx: CallContext): Promise<void> {
  try {
    await checkAdmin(member, ctx);
  } catch (err) {
    const raw = RAW_ERRORS[(err as { kind?: string }).kind ?? ''];
    throw raw ? etcdError(raw) : err;
  }
}

/**
 * etcd 3.4's Alarm: any user may call it, but its token must be valid (the server reads the caller
 * from it to propose the request); a bad one is refused untranslated ("auth: invalid auth token").
 */
export async function checkTokenRaw(member: Member, ctx: CallContext): Promise<void> {
  try {
    await authInfoOf(member, ctx);
  } catch (err) {
    const raw = RAW_ERRORS[(err as { kind?: string }).kind ?? ''];
    throw raw ? etcdError(raw) : err;
  }
}

const RAW_ERRORS: Record<string, WireErrorName> = {
  permissionDenied: 'rawPermissionDenied',
  userEmpty: 'rawUserEmpty',
  userNotFound: 'rawUserNotFound',
  invalidAuthToken: 'rawInvalidAuthToken',
};

/** A request without a token: etcd's empty AuthInfo (refused with "user name is empty" when auth is on). */
export const NOBODY: AuthInfo = Object.freeze({ username: '', revision: 0n });

/** etcd's IsAdminPermitted at the edge, for maintenance and membership calls. */
export async function checkAdmin(member: Member, ctx: CallContext): Promise<void> {
  const ai = await authInfoOf(member, ctx);
  member.auth.checkAdmin(ai);
}

/** Registers etcdserverpb.Auth on `server`. `rest` fills the methods not served (3.5's AuthStatus). */
export function registerAuthService(
  server: GrpcServer,
  member: Member,
  // biome-ignore lint/suspicious/noExplicitAny: heterogeneous handler map
  withRest: (def: ServiceDefinition, impl: Record<string, any>) => Record<string, any>,
): void {
  const header = (): ResponseHeader => fillHeader(member, undefined);
  /** Proposes one auth request as the caller; answers with the applied result and a header. */
  const propose = async <T extends object>(
    fields: object,
    ctx: CallContext,
  ): Promise<T & { header: ResponseHeader }> => {
    const ai = await authInfoOf(member, ctx);
    const res = (await member.proposeAuth(fields, ai ?? NOBODY)) as T;
    return { ...res, header: header() };
  };
  server.addService(
    AuthService,
    withRest(AuthService, {
      authEnable: (_r: AuthEnableRequest, ctx: CallContext) => propose({ authEnable: {} }, ctx),
      authDisable: (_r: AuthDisableRequest, ctx: CallContext) => propose({ authDisable: {} }, ctx),
      authenticate: (r: AuthenticateRequest, ctx: CallContext) => authenticate(member, r, ctx),
      userAdd: async (r: AuthUserAddRequest, ctx: CallContext) => {
        const noPassword = r.options?.noPassword === true;
        // etcd hashes while applying, on every member; here the proposer hashes once, off the event
        // loop, and the entry carries the hash (never the password), as etcd 3.5 does. Root is
        // checked first (as applying checks again) so that nobody else can make the member hash.
        await checkAdmin(member, ctx);
        const hashedPassword =
          noPassword || r.name.length === 0 ? '' : await member.bcrypt.hash(r.password, member.bcryptCost);
        return propose(
          { authUserAdd: { name: r.name, password: '', options: r.options, hashedPassword } },
          ctx,
        );
      },
      userGet: (r: AuthUserGetRequest, ctx: CallContext) => propose({ authUserGet: r }, ctx),
      userList: (r: AuthUserListRequest, ctx: CallContext) => propose({ authUserList: r }, ctx),
      userDelete: (r: AuthUserDeleteRequest, ctx: CallContext) => propose({ authUserDelete: r }, ctx),
      userChangePassword: async (r: AuthUserChangePasswordRequest, ctx: CallContext) => {
        await checkAdmin(member, ctx);
        const hashedPassword = await member.bcrypt.hash(r.password, member.bcryptCost);
        return propose({ authUserChangePassword: { name: r.name, password: '', hashedPassword } }, ctx);
      },
      userGrantRole: (r: AuthUserGrantRoleRequest, ctx: CallContext) =>
        propose({ authUserGrantRole: r }, ctx),
      userRevokeRole: (r: AuthUserRevokeRoleRequest, ctx: CallContext) =>
        propose({ authUserRevokeRole: r }, ctx),
      roleAdd: (r: AuthRoleAddRequest, ctx: CallContext) => propose({ authRoleAdd: r }, ctx),
      roleGet: (r: AuthRoleGetRequest, ctx: CallContext) => propose({ authRoleGet: r }, ctx),
      roleList: (r: AuthRoleListRequest, ctx: CallContext) => propose({ authRoleList: r }, ctx),
      roleDelete: (r: AuthRoleDeleteRequest, ctx: CallContext) => propose({ authRoleDelete: r }, ctx),
      roleGrantPermission: (r: AuthRoleGrantPermissionRequest, ctx: CallContext) =>
        propose({ authRoleGrantPermission: r }, ctx),
      roleRevokePermission: (r: AuthRoleRevokePermissionRequest, ctx: CallContext) =>
        propose({ authRoleRevokePermission: r }, ctx),
    }),
  );
}

/**
 * etcd's Authenticate: a linearizable read barrier, the password checked against the stored hash (off
 * the event loop), then an entry through the log that issues the token on every member; retried when
 * the auth store changed between the check and the entry.
 */
async function authenticate(
  member: Member,
  r: AuthenticateRequest,
  ctx: CallContext,
): Promise<AuthenticateResponse> {
  await member.readBarrier();
  for (let attempt = 0; attempt < AUTHENTICATE_RETRIES_MAX; attempt++) {
    const { hash, revision } = member.auth.passwordOf(r.name);
    if (!(await member.bcrypt.compare(r.password, hash))) throw etcdError('authFailed');
    const applied = (await member.proposeAuth(
      { authenticate: { name: r.name, password: '', simpleToken: member.auth.tokens.genTokenPrefix() } },
      await authInfoOf(member, ctx).catch(() => undefined),
    )) as AuthenticateResult;
    if (revision !== member.auth.revision) continue;
    const token = await member.auth.tokens.issue(applied);
    return { header: fillHeader(member, undefined), token };
  }
  throw new GrpcError(Status.UNAVAILABLE, 'etcdserver: request timed out');
}
