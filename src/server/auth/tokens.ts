/**
 * Auth tokens, as etcd 3.4's token providers (auth/simple_token.go, auth/jwt.go).
 *
 * simple: `<16 random letters>.<raft index>`. The member that takes the Authenticate call draws the
 *   letters and proposes them; every member, applying the entry, records the token for the user with
 *   the entry's index, so a token is valid on every member (one that has not applied the entry yet
 *   waits for it, as etcd's indexWaiter does). Tokens live in memory: they expire `ttl` after their
 *   last use (etcd's --auth-token-ttl, default 300 s), and are dropped when the user is deleted or
 *   changes password, when auth is disabled, and on restart.
 * jwt: a signed JWT with claims `username`, `revision` (the auth revision it was issued at) and `exp`;
 *   any member holding the key verifies it, and a permission change makes older tokens stale.
 */
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { jwtVerify, SignJWT } from 'jose';
import { type Clock, RealClock } from '../../pkg/clock.js';
import { parseDurationMs } from '../../pkg/duration.js';

/** Who a request acts as, and the auth revision its token was checked at (0 = nobody). */
export interface AuthInfo {
  username: string;
  revision: bigint;
}

/** What the provider needs from its member. */
export interface TokenHost {
  /** Resolves true once the member applied `index`, false if it gave up (the request's deadline). */
  waitApplied(index: number): Promise<boolean>;
  /** The member's auth revision now. */
  authRevision(): bigint;
}

export interface TokenProvider {
  readonly kind: 'simple' | 'jwt';
  /** The random part the proposing member puts in the Authenticate entry ('' for JWT). */
  genTokenPrefix(): string;
  /** Applying Authenticate: records (simple) the token; returns it, or undefined if signed later. */
  assignAtApply(username: string, index: number, prefix: string): string | undefined;
  /** After the entry applied, at the edge: the token to hand out (JWT signs here). */
  issue(applied: { token: string | undefined; username: string; revision: bigint }): Promise<string>;
  /** The user behind `token`, or undefined when it is not valid here. */
  info(token: string): Promise<AuthInfo | undefined>;
  enable(): void;
  disable(): void;
  invalidateUser(username: string): void;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** etcd's defaultSimpleTokenLength. */
export const SIMPLE_TOKEN_LENGTH = 16;
/** etcd's simpleTokenTTLDefault. */
export const SIMPLE_TOKEN_TTL_DEFAULT_S = 300;

/** etcd's tokenSimple. */
export class SimpleTokens implements TokenProvider {
  readonly kind = 'simple';
  private readonly tokens = new Map<string, { username: string; expiresMs: number }>();
  private enabled = false;
  private readonly ttlMs: number;

  constructor(
    private readonly host: TokenHost,
    ttlSeconds: number,
    private readonly clock: Clock = new RealClock(),
  ) {
    this.ttlMs = (ttlSeconds > 0 ? ttlSeconds : SIMPLE_TOKEN_TTL_DEFAULT_S) * 1000;
  }

  genTokenPrefix(): string {
    let s = '';
    for (let i = 0; i < SIMPLE_TOKEN_LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)];
    return s;
  }

  assignAtApply(username: string, index: number, prefix: string): string {
    const token = `${prefix}.${index}`;
    // etcd records tokens only while auth is enabled (its TTL keeper exists only then).
    if (this.enabled) {
      this.sweep();
      this.tokens.set(token, { username, expiresMs: this.clock.now() + this.ttlMs });
    }
    return token;
  }

  async issue(applied: { token: string | undefined }): Promise<string> {
    return applied.token ?? '';
  }

  async info(token: string): Promise<AuthInfo | undefined> {
    const parts = token.split('.');
    if (parts.length !== 2) return undefined;
    const digits = parts[1] ?? '';
    // Go's strconv.Atoi: an optional sign, then decimal digits.
    if (!/^[+-]?\d+$/.test(digits)) return undefined;
    const index = Number(digits);
    if (index > 0 && !(await this.host.waitApplied(index))) return undefined;
    const t = this.tokens.get(token);
    if (!t) return undefined;
    const now = this.clock.now();
    if (t.expiresMs < now) {
      this.tokens.delete(token);
      return undefined;
    }
    t.expiresMs = now + this.ttlMs;
    return { username: t.username, revision: this.host.authRevision() };
  }

  enable(): void {
    this.enabled = true;
  }

  disable(): void {
    this.enabled = false;
    this.tokens.clear();
  }

  invalidateUser(username: string): void {
    for (const [token, t] of this.tokens) if (t.username === username) this.tokens.delete(token);
  }

  /** Drops expired tokens (etcd's keeper does this every second). */
  private sweep(): void {
    const now = this.clock.now();
    for (const [token, t] of this.tokens) if (t.expiresMs < now) this.tokens.delete(token);
  }
}

/** The signing methods etcd's jwt library knows, by family. */
const JWT_METHODS: Record<string, 'rsa' | 'ec' | 'hmac'> = {
  RS256: 'rsa',
  RS384: 'rsa',
  RS512: 'rsa',
  PS256: 'rsa',
  PS384: 'rsa',
  PS512: 'rsa',
  ES256: 'ec',
  ES384: 'ec',
  ES512: 'ec',
  HS256: 'hmac',
  HS384: 'hmac',
  HS512: 'hmac',
};

/** etcd's DefaultTTL for JWT tokens. */
export const JWT_TTL_DEFAULT_MS = 5 * 60 * 1000;

/** etcd's tokenJWT. */
export class JwtTokens implements TokenProvider {
  readonly kind = 'jwt';

  private constructor(
    private readonly alg: string,
    private readonly signKey: KeyObject | undefined,
    private readonly verifyKey: KeyObject,
    private readonly ttlMs: number,
  ) {}

  /** Reads the keys named by the options of `--auth-token jwt,...`; throws etcd's option errors. */
  static fromOptions(opts: Map<string, string>): JwtTokens {
    const ttlText = opts.get('ttl') ?? '';
    const ttlMs = ttlText === '' ? JWT_TTL_DEFAULT_MS : parseDurationMs(ttlText);
    if (ttlMs === undefined) throw new Error(`time: invalid duration "${ttlText}"`);
    const pub = opts.get('pub-key') ? readFileSync(opts.get('pub-key') as string) : undefined;
    const priv = opts.get('priv-key') ? readFileSync(opts.get('priv-key') as string) : undefined;
    const alg = opts.get('sign-method') ?? '';
    const family = JWT_METHODS[alg];
    if (!family) throw new Error('auth: invalid auth signature method');
    if (family === 'hmac') {
      if (!priv || priv.length === 0) throw new Error('auth: missing key data');
      const k = createSecretKey(priv);
      return new JwtTokens(alg, k, k, ttlMs);
    }
    const privKey = priv ? createPrivateKey(priv) : undefined;
    const pubKey = pub ? createPublicKey(pub) : undefined;
    if (!privKey && !pubKey) throw new Error('auth: missing key data');
    const verify = pubKey ?? createPublicKey(privKey as KeyObject);
    if (privKey && pubKey) {
      const a = createPublicKey(privKey).export({ format: 'der', type: 'spki' });
      if (!a.equals(pubKey.export({ format: 'der', type: 'spki' }))) {
        throw new Error("auth: public and private keys don't match");
      }
    }
    return new JwtTokens(alg, privKey, verify, ttlMs);
  }

  genTokenPrefix(): string {
    return '';
  }

  assignAtApply(): undefined {
    return undefined;
  }

  async issue(applied: { username: string; revision: bigint }): Promise<string> {
    if (!this.signKey) throw new Error('auth: token signing attempted with verify-only key');
    return new SignJWT({ username: applied.username, revision: Number(applied.revision) })
      .setProtectedHeader({ alg: this.alg, typ: 'JWT' })
      .setExpirationTime(Math.floor((Date.now() + this.ttlMs) / 1000))
      .sign(this.signKey);
  }

  async info(token: string): Promise<AuthInfo | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.verifyKey, { algorithms: [this.alg] });
      if (typeof payload.username !== 'string' || typeof payload.revision !== 'number') return undefined;
      return { username: payload.username, revision: BigInt(Math.trunc(payload.revision)) };
    } catch {
      return undefined;
    }
  }

  enable(): void {}
  disable(): void {}
  invalidateUser(): void {}
}

/**
 * The provider `--auth-token` names (etcd's NewTokenProvider): `simple`, or
 * `jwt,pub-key=<file>,priv-key=<file>,sign-method=<alg>[,ttl=<duration>]`. Throws etcd's
 * "auth: invalid auth options" (and the jwt errors) for anything else.
 */
export function newTokenProvider(
  spec: string,
  host: TokenHost,
  ttlSeconds: number,
  clock?: Clock,
): TokenProvider {
  const parts = spec.split(',');
  const type = parts[0] ?? '';
  const opts = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const pair = p.split('=');
    if (pair.length !== 2 || opts.has(pair[0] as string)) throw new Error('auth: invalid auth options');
    opts.set(pair[0] as string, pair[1] as string);
  }
  if (type === 'simple') return new SimpleTokens(host, ttlSeconds, clock);
  if (type === 'jwt') return JwtTokens.fromOptions(opts);
  throw new Error('auth: invalid auth options');
}
