/** The auth layer of the member: users, roles, permissions, tokens (see README.md). */
export { BCRYPT_DEFAULT_COST, BcryptPool, effectiveBcryptCost } from './bcrypt.js';
export { affineCompare, RangePermissions } from './perms.js';
export { type AuthBackend, type AuthenticateResult, AuthStore, ROOT_ROLE, ROOT_USER } from './store.js';
export {
  type AuthInfo,
  JwtTokens,
  newTokenProvider,
  SimpleTokens,
  type TokenHost,
  type TokenProvider,
} from './tokens.js';
