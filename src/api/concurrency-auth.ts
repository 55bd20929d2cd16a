/**
 * Permission checks for Lock and Election (auth, issue 13). etcd serves both through an embedded
 * client that carries the caller's token, so each step is checked as the caller; here the steps run
 * as the member, and the caller is checked up front for the keys those steps touch:
 *   Lock / Campaign (name, lease): read `name/<lease hex>` (the create-revision compare), write it,
 *     read the prefix `name/` (who holds it). With lease 0 the key is not known before the session
 *     lease is granted, so write over the whole prefix is required (stricter than etcd).
 *   Unlock (key): write key. Proclaim / Resign (leader key): read and write the key.
 *   Leader / Observe (name): read the prefix `name/`.
 */
import { ConcurrencyError, type Member, prefixEnd } from '../server/index.js';
import { EtcdError } from '../wire/errors.js';
import { authInfoOf, NOBODY } from './auth-service.js';
import type { CallContext } from './grpc-server.js';

const EMPTY = Buffer.alloc(0);

/**
 * Runs a check; its refusal reaches the caller as etcd's embedded client passes it on: UNKNOWN with
 * the same text (etcd's v3lock/v3election return the client's error, which has no gRPC status).
 */
async function asClient(check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (err) {
    throw err instanceof EtcdError ? new ConcurrencyError(err.message) : err;
  }
}

function prefixOf(name: Buffer): Buffer {
  return Buffer.concat([name, Buffer.from('/')]);
}

/** Lock or Campaign on `name` with `lease`. */
export async function checkAcquire(
  member: Member,
  ctx: CallContext,
  name: Buffer,
  lease: bigint,
): Promise<void> {
  await asClient(async () => {
    if (!member.auth.enabled && ctx.metadata.token === undefined) return;
    const ai = (await authInfoOf(member, ctx)) ?? NOBODY;
    const pfx = prefixOf(name);
    if (lease !== 0n) {
      const key = Buffer.concat([pfx, Buffer.from(lease.toString(16))]);
      member.auth.checkRange(ai, key, EMPTY);
      member.auth.checkPut(ai, key);
    } else {
      member.auth.checkDeleteRange(ai, pfx, prefixEnd(pfx));
    }
    member.auth.checkRange(ai, pfx, prefixEnd(pfx));
  });
}

/** Leader or Observe on `name`. */
export async function checkReadName(member: Member, ctx: CallContext, name: Buffer): Promise<void> {
  await asClient(async () => {
    if (!member.auth.enabled && ctx.metadata.token === undefined) return;
    const ai = (await authInfoOf(member, ctx)) ?? NOBODY;
    const pfx = prefixOf(name);
    member.auth.checkRange(ai, pfx, prefixEnd(pfx));
  });
}

/** Unlock, Proclaim or Resign on a held `key` (`read`: the step compares the key first). */
export async function checkHeldKey(
  member: Member,
  ctx: CallContext,
  key: Buffer,
  read: boolean,
): Promise<void> {
  await asClient(async () => {
    if (!member.auth.enabled && ctx.metadata.token === undefined) return;
    const ai = (await authInfoOf(member, ctx)) ?? NOBODY;
    if (read) member.auth.checkRange(ai, key, EMPTY);
    member.auth.checkPut(ai, key);
  });
}
