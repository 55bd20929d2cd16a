/** Auth set-ups the e2e and fuzz tests share. */
import type { EtcdClients } from './grpc.js';
import { b } from './util.js';

/**
 * Users and roles the auth tests share: root (password rootpw, role root) and u (password upw) with
 * role r, read-write on the keys under `prefix` (a prefix ending in "/"); then auth is enabled.
 */
export async function enableAuthWithUser(c: EtcdClients, prefix: string): Promise<void> {
  const rangeEnd = `${prefix.slice(0, -1)}0`;
  await c.auth.userAdd({ name: 'root', password: 'rootpw' });
  await c.auth.userGrantRole({ user: 'root', role: 'root' });
  await c.auth.userAdd({ name: 'u', password: 'upw' });
  await c.auth.roleAdd({ name: 'r' });
  await c.auth.roleGrantPermission({
    name: 'r',
    perm: { permType: 2, key: b(prefix), rangeEnd: b(rangeEnd) },
  });
  await c.auth.userGrantRole({ user: 'u', role: 'r' });
  await c.auth.authEnable({});
}
