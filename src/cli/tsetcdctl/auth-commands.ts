/**
 * etcdctl 3.4's `auth`, `user` and `role` commands (ctlv3/command/{auth,user,role}_command.go) with
 * their printers: simple as printer_simple.go, fields as printer_fields.go (header only, except role
 * get/list; user get/list have no fields printer), json and protobuf the response itself, table
 * unsupported. Passwords are read as etcdctl reads them: speakeasy's prompt (stty -echo, one line of
 * stdin) or, with --interactive=false, fmt.Scanf("%s") of stdin.
 */
import type { Client } from '../../client/index.js';
import { fromGrpc, isEtcdError, prefixEnd } from '../../client/index.js';
import { Permission_Type } from '../../proto/authpb/auth.js';
import {
  AuthRoleAddResponse,
  AuthRoleDeleteResponse,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionResponse,
  AuthRoleListResponse,
  AuthRoleRevokePermissionResponse,
  AuthUserAddResponse,
  AuthUserChangePasswordResponse,
  AuthUserDeleteResponse,
  AuthUserGetResponse,
  AuthUserGrantRoleResponse,
  AuthUserListResponse,
  AuthUserRevokeRoleResponse,
  type ResponseHeader,
} from '../../proto/etcdserverpb/rpc.js';
import { type Command, type Ctx, command, display, type Encoder, rpcPrinters } from './command.js';
import { type FlagSpecs, UsageError } from './flags.js';
import { goQuote } from './go-format.js';
import { fieldsHeader } from './output.js';
import { askPassword } from './terminal.js';

/** A response printed by its header in the fields format and by a sentence in the simple one. */
function showHeaderResponse<T extends { header?: ResponseHeader | undefined }>(
  ctx: Ctx,
  r: T,
  type: Encoder<T>,
  simple: string,
): void {
  display(ctx, {
    ...rpcPrinters(ctx, r, type),
    fields: () => fieldsHeader(ctx.out, r.header),
    simple: () => ctx.out.out(`${simple}\n`),
  });
}

function needArgs(ctx: Ctx, n: number, text: string): void {
  if (ctx.args.length !== n) throw new UsageError(text);
}

/** printer_simple.go's RoleGet. */
function roleGetSimple(ctx: Ctx, role: string, r: AuthRoleGetResponse): void {
  const line = (key: Buffer, end: Buffer): string => {
    if (end.length === 0) return `\t${key.toString('latin1')}\n`;
    let s = end.equals(Buffer.from([0]))
      ? `\t[${key.toString('latin1')}, <open ended>`
      : `\t[${key.toString('latin1')}, ${end.toString('latin1')})`;
    if (prefixEnd(key).equals(end)) s += ` (prefix ${key.toString('latin1')})`;
    return `${s}\n`;
  };
  ctx.out.out(`Role ${role}\nKV Read:\n`);
  for (const p of r.perm)
    if (p.permType === Permission_Type.READ || p.permType === Permission_Type.READWRITE)
      ctx.out.out(line(p.key, p.rangeEnd));
  ctx.out.out('KV Write:\n');
  for (const p of r.perm)
    if (p.permType === Permission_Type.WRITE || p.permType === Permission_Type.READWRITE)
      ctx.out.out(line(p.key, p.rangeEnd));
}

function showRoleGet(ctx: Ctx, role: string, r: AuthRoleGetResponse): void {
  display(ctx, {
    ...rpcPrinters(ctx, r, AuthRoleGetResponse),
    simple: () => roleGetSimple(ctx, role, r),
    fields: () => {
      fieldsHeader(ctx.out, r.header);
      for (const p of r.perm) {
        // fmt.Println(`"PermType" : `, name): Println puts a space between its operands
        ctx.out.out(`"PermType" :  ${Permission_Type[p.permType]}\n`);
        ctx.out.out(`"Key" : ${goQuote(p.key)}\n"RangeEnd" : ${goQuote(p.rangeEnd)}\n`);
      }
    },
  });
}

/** user_command.go's readPasswordInteractive. */
function readPasswordInteractive(ctx: Ctx, name: string): string {
  const p1 = askPassword((s) => ctx.out.out(s), `Password of ${name}: `, ctx.readLine);
  if (p1 === '') throw new UsageError('empty password');
  const p2 = askPassword(
    (s) => ctx.out.out(s),
    `Type password of ${name} again for confirmation: `,
    ctx.readLine,
  );
  if (p1 !== p2) throw new UsageError('given passwords are different');
  return p1;
}

/** fmt.Scanf("%s"): the first space-separated word of the first line of stdin ("" if none). */
function scanWord(ctx: Ctx): string {
  const line = ctx.readLine() ?? '';
  return /^[ \t\r]*(\S*)/.exec(line)![1]!;
}

/** The password of `user add` / `user passwd` without --new-user-password. */
function readPassword(ctx: Ctx, name: string): string {
  return ctx.flag('interactive') === 'false' ? scanWord(ctx) : readPasswordInteractive(ctx, name);
}

/** role_command.go's permRange: the key and range end of a permission from args and flags. */
export function permRange(args: string[], prefix: boolean, fromKey: boolean): [Buffer, Buffer] {
  const key = args[0]!;
  if (key.length === 0) {
    if (prefix && fromKey) throw new UsageError('--from-key and --prefix flags are mutually exclusive');
    // the empty key means every key: ["\0", end), and "\0" as end is open ended
    return [Buffer.from([0]), prefix || fromKey ? Buffer.from([0]) : Buffer.alloc(0)];
  }
  const k = Buffer.from(key);
  if (args.length === 1) {
    if (prefix) {
      if (fromKey) throw new UsageError('--from-key and --prefix flags are mutually exclusive');
      return [k, prefixEnd(k)];
    }
    return [k, fromKey ? Buffer.from([0]) : Buffer.alloc(0)];
  }
  if (prefix) throw new UsageError('unexpected endkey argument with --prefix flag');
  if (fromKey) throw new UsageError('unexpected endkey argument with --from-key flag');
  return [k, Buffer.from(args[1]!)];
}

const PASSWORD_FLAG: FlagSpecs = {
  interactive: {
    kind: 'bool',
    default: 'true',
    help: 'If true, read password from stdin instead of interactive terminal',
  },
};

function permFlags(verb: 'grant' | 'revoke'): FlagSpecs {
  return {
    prefix: { kind: 'bool', default: 'false', help: `${verb} a prefix permission` },
    'from-key': {
      kind: 'bool',
      default: 'false',
      help: `${verb} a permission of keys that are greater than or equal to the given key using byte compare`,
    },
  };
}

/** `user grant-role` / `user revoke-role`: a user name and a role name, then one call. */
function userRoleCommand(
  verb: string,
  short: string,
  usage: string,
  call: (c: { ctx: Ctx; auth: Client['auth'] }, user: string, role: string) => Promise<void>,
): Command {
  return command(`user ${verb}`, `user ${verb} <user name> <role name>`, short, {}, async (ctx) => {
    needArgs(ctx, 2, usage);
    const [user, role] = ctx.args as [string, string];
    await call({ ctx, auth: (await ctx.client()).auth }, user, role);
  });
}

/** auth enable: adds the root role and grants it to root when the server asks for it, as etcdctl. */
async function authEnable(c: Client): Promise<void> {
  for (;;) {
    try {
      await c.auth.enable();
      return;
    } catch (e) {
      if (!isEtcdError(fromGrpc(e), 'rootRoleNotExist')) throw e;
      await c.auth.roleAdd('root');
      await c.auth.userGrantRole('root', 'root');
    }
  }
}

/** The auth, user and role commands. */
export const AUTH_COMMANDS: Command[] = [
  command('auth enable', 'auth enable', 'Enables authentication', {}, async (ctx) => {
    needArgs(ctx, 0, 'auth enable command does not accept any arguments');
    await authEnable(await ctx.client());
    ctx.out.out('Authentication Enabled\n');
  }),
  command('auth disable', 'auth disable', 'Disables authentication', {}, async (ctx) => {
    needArgs(ctx, 0, 'auth disable command does not accept any arguments');
    await (await ctx.client()).auth.disable();
    ctx.out.out('Authentication Disabled\n');
  }),
  command(
    'user add',
    'user add <user name or user:password> [options]',
    'Adds a new user',
    {
      interactive: {
        kind: 'bool',
        default: 'true',
        help: 'Read password from stdin instead of interactive terminal',
      },
      'new-user-password': {
        kind: 'string',
        default: '',
        help: 'Supply password from the command line flag',
      },
      'no-password': {
        kind: 'bool',
        default: 'false',
        help: 'Create a user without password (CN based auth only)',
      },
    },
    async (ctx) => {
      needArgs(ctx, 1, 'user add command requires user name as its argument');
      const arg = ctx.args[0]!;
      const noPassword = ctx.flag('no-password') === 'true';
      let user = arg;
      let password = '';
      if (!noPassword) {
        if (ctx.flag('new-user-password') !== '') password = ctx.flag('new-user-password');
        else {
          const i = arg.indexOf(':');
          if (i < 0) password = readPassword(ctx, arg);
          else {
            user = arg.slice(0, i);
            password = arg.slice(i + 1);
            if (user === '') throw new UsageError('empty user name is not allowed');
          }
        }
      }
      const r = await (await ctx.client()).auth.userAdd(user, password, { noPassword });
      showHeaderResponse(ctx, r, AuthUserAddResponse, `User ${user} created`);
    },
  ),
  command('user delete', 'user delete <user name>', 'Deletes a user', {}, async (ctx) => {
    needArgs(ctx, 1, 'user delete command requires user name as its argument');
    const name = ctx.args[0]!;
    const r = await (await ctx.client()).auth.userDelete(name);
    showHeaderResponse(ctx, r, AuthUserDeleteResponse, `User ${name} deleted`);
  }),
  command(
    'user get',
    'user get <user name> [options]',
    'Gets detailed information of a user',
    { detail: { kind: 'bool', default: 'false', help: 'Show permissions of roles granted to the user' } },
    async (ctx) => {
      needArgs(ctx, 1, 'user get command requires user name as its argument');
      const name = ctx.args[0]!;
      const c = await ctx.client();
      const r = await c.auth.userGet(name);
      if (ctx.flag('detail') === 'true') {
        ctx.out.out(`User: ${name}\n`);
        for (const role of r.roles) {
          ctx.out.out('\n');
          showRoleGet(ctx, role, await c.auth.roleGet(role));
        }
        return;
      }
      display(ctx, {
        ...rpcPrinters(ctx, r, AuthUserGetResponse),
        simple: () => ctx.out.out(`User: ${name}\nRoles:${r.roles.map((x) => ` ${x}`).join('')}\n`),
      });
    },
  ),
  command('user list', 'user list', 'Lists all users', {}, async (ctx) => {
    needArgs(ctx, 0, 'user list command requires no arguments');
    const r = await (await ctx.client()).auth.userList();
    display(ctx, {
      ...rpcPrinters(ctx, r, AuthUserListResponse),
      simple: () => ctx.out.out(r.users.map((u) => `${u}\n`).join('')),
    });
  }),
  command(
    'user passwd',
    'user passwd <user name> [options]',
    'Changes password of user',
    PASSWORD_FLAG,
    async (ctx) => {
      needArgs(ctx, 1, 'user passwd command requires user name as its argument');
      const password = readPassword(ctx, ctx.args[0]!);
      const r = await (await ctx.client()).auth.userChangePassword(ctx.args[0]!, password);
      showHeaderResponse(ctx, r, AuthUserChangePasswordResponse, 'Password updated');
    },
  ),
  userRoleCommand(
    'grant-role',
    'Grants a role to a user',
    'user grant command requires user name and role name as its argument',
    async (c, user, role) =>
      showHeaderResponse(
        c.ctx,
        await c.auth.userGrantRole(user, role),
        AuthUserGrantRoleResponse,
        `Role ${role} is granted to user ${user}`,
      ),
  ),
  userRoleCommand(
    'revoke-role',
    'Revokes a role from a user',
    'user revoke-role requires user name and role name as its argument',
    async (c, user, role) =>
      showHeaderResponse(
        c.ctx,
        await c.auth.userRevokeRole(user, role),
        AuthUserRevokeRoleResponse,
        `Role ${role} is revoked from user ${user}`,
      ),
  ),
  command('role add', 'role add <role name>', 'Adds a new role', {}, async (ctx) => {
    needArgs(ctx, 1, 'role add command requires role name as its argument');
    const r = await (await ctx.client()).auth.roleAdd(ctx.args[0]!);
    showHeaderResponse(ctx, r, AuthRoleAddResponse, `Role ${ctx.args[0]} created`);
  }),
  command('role delete', 'role delete <role name>', 'Deletes a role', {}, async (ctx) => {
    needArgs(ctx, 1, 'role delete command requires role name as its argument');
    const r = await (await ctx.client()).auth.roleDelete(ctx.args[0]!);
    showHeaderResponse(ctx, r, AuthRoleDeleteResponse, `Role ${ctx.args[0]} deleted`);
  }),
  command('role get', 'role get <role name>', 'Gets detailed information of a role', {}, async (ctx) => {
    needArgs(ctx, 1, 'role get command requires role name as its argument');
    showRoleGet(ctx, ctx.args[0]!, await (await ctx.client()).auth.roleGet(ctx.args[0]!));
  }),
  command('role list', 'role list', 'Lists all roles', {}, async (ctx) => {
    needArgs(ctx, 0, 'role list command requires no arguments');
    const r = await (await ctx.client()).auth.roleList();
    display(ctx, {
      ...rpcPrinters(ctx, r, AuthRoleListResponse),
      simple: () => ctx.out.out(r.roles.map((x) => `${x}\n`).join('')),
      fields: () => {
        fieldsHeader(ctx.out, r.header);
        ctx.out.out(`"Roles" :${r.roles.map((x) => ` ${goQuote(x)}`).join('')}\n`);
      },
    });
  }),
  command(
    'role grant-permission',
    'role grant-permission [options] <role name> <permission type> <key> [endkey]',
    'Grants a key to a role',
    permFlags('grant'),
    async (ctx) => {
      if (ctx.args.length < 3)
        throw new UsageError(
          'role grant command requires role name, permission type, and key [endkey] as its argument',
        );
      const [role, type] = ctx.args as [string, string];
      const perm = { READ: 'read', WRITE: 'write', READWRITE: 'readwrite' } as const;
      const p = perm[type.toUpperCase() as keyof typeof perm];
      if (p === undefined) throw new UsageError(`invalid permission type: ${type}`);
      const [key, end] = permRange(
        ctx.args.slice(2),
        ctx.flag('prefix') === 'true',
        ctx.flag('from-key') === 'true',
      );
      const r = await (await ctx.client()).auth.roleGrantPermission(role, p, key, end);
      showHeaderResponse(ctx, r, AuthRoleGrantPermissionResponse, `Role ${role} updated`);
    },
  ),
  command(
    'role revoke-permission',
    'role revoke-permission <role name> <key> [endkey]',
    'Revokes a key from a role',
    permFlags('revoke'),
    async (ctx) => {
      if (ctx.args.length < 2)
        throw new UsageError(
          'role revoke-permission command requires role name and key [endkey] as its argument',
        );
      const role = ctx.args[0]!;
      const [key, end] = permRange(
        ctx.args.slice(1),
        ctx.flag('prefix') === 'true',
        ctx.flag('from-key') === 'true',
      );
      const r = await (await ctx.client()).auth.roleRevokePermission(role, key, end);
      // printer_simple.go prints the key as given (args[1]) and the computed range end
      const k = ctx.args[1]!;
      const e = end.toString('latin1');
      const simple =
        end.length === 0
          ? `Permission of key ${k} is revoked from role ${role}`
          : e !== '\x00'
            ? `Permission of range [${k}, ${e}) is revoked from role ${role}`
            : `Permission of range [${k}, <open ended> is revoked from role ${role}`;
      showHeaderResponse(ctx, r, AuthRoleRevokePermissionResponse, simple);
    },
  ),
];
