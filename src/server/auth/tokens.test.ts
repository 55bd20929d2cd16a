// Goal: simple tokens behave as etcd's tokenSimple (format, TTL from last use, invalidation, a
// member behind waits for the issuing index) and JWTs carry user and revision and reject tampering.
// Method: drive the providers directly with a manual clock and a fake member.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../pkg/clock.js';
import { newTokenProvider, SimpleTokens } from './tokens.js';

test('simple tokens: format, TTL after last use, invalidation, waiting for the index', async () => {
  const clock = new ManualClock();
  let applied = 10;
  const waited: number[] = [];
  const host = {
    waitApplied: async (i: number) => {
      waited.push(i);
      return i <= applied;
    },
    authRevision: () => 7n,
  };
  const t = new SimpleTokens(host, 300, clock);
  const prefix = t.genTokenPrefix();
  assert.match(prefix, /^[a-zA-Z]{16}$/);
  assert.equal(t.assignAtApply('u', 5, prefix), `${prefix}.5`);
  assert.equal(await t.info(`${prefix}.5`), undefined, 'not recorded while auth is disabled');
  t.enable();
  const tok = t.assignAtApply('u', 5, prefix);
  assert.deepEqual(await t.info(tok), { username: 'u', revision: 7n });
  assert.equal(await t.info('nodot'), undefined);
  assert.equal(await t.info(`${prefix}.x`), undefined);
  clock.advance(299_000);
  assert.ok(await t.info(tok), 'used within the TTL: renewed');
  clock.advance(299_000);
  assert.ok(await t.info(tok), 'the TTL runs from the last use');
  clock.advance(301_000);
  assert.equal(await t.info(tok), undefined, 'expired');
  const late = t.assignAtApply('u', 12, prefix);
  applied = 11;
  assert.equal(await t.info(late), undefined, 'a member that never reaches the index refuses it');
  assert.equal(waited.at(-1), 12);
  applied = 12;
  assert.ok(await t.info(late));
  t.invalidateUser('u');
  assert.equal(await t.info(late), undefined, 'invalidated with its user');
  const again = t.assignAtApply('v', 13, prefix);
  applied = 13;
  t.disable();
  assert.equal(await t.info(again), undefined, 'disable drops every token');
});

test('jwt tokens: claims, stale revision is the caller’s to judge, tampering is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsetcd-jwt-unit-'));
  try {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'k'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(join(dir, 'p'), publicKey.export({ format: 'pem', type: 'spki' }));
    const host = { waitApplied: async () => true, authRevision: () => 1n };
    const t = newTokenProvider(
      `jwt,pub-key=${join(dir, 'p')},priv-key=${join(dir, 'k')},sign-method=ES256`,
      host,
      300,
    );
    const tok = await t.issue({ token: undefined, username: 'u', revision: 4n });
    assert.deepEqual(await t.info(tok), { username: 'u', revision: 4n });
    assert.equal(await t.info(`${tok.slice(0, -2)}AA`), undefined);
    const verifyOnly = newTokenProvider(`jwt,pub-key=${join(dir, 'p')},sign-method=ES256`, host, 300);
    assert.deepEqual(await verifyOnly.info(tok), { username: 'u', revision: 4n });
    await assert.rejects(verifyOnly.issue({ token: undefined, username: 'u', revision: 4n }), /verify-only/);
    assert.throws(() => newTokenProvider('jwt,sign-method=XX1', host, 300), /invalid auth signature method/);
    assert.throws(() => newTokenProvider('jwt,sign-method', host, 300), /invalid auth options/);
    assert.throws(() => newTokenProvider('nope', host, 300), /invalid auth options/);
    assert.throws(() => newTokenProvider('jwt,sign-method=RS256', host, 300), /missing key data/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
