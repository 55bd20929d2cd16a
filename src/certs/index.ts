/** `tsetcd certs`: cfssl's CA and certificate making, in-process. See README.md. */
export { type BarePaths, barePaths, writeBare } from './files.js';
export { type Issued, initCa, loadCa, type SigningCa, signCert } from './issue.js';
export {
  BUILTIN_PROFILES,
  builtinProfile,
  type CertRequest,
  CertsError,
  DEFAULT_CA_EXPIRY_MS,
  DEFAULT_EXPIRY_MS,
  DEFAULT_KEY,
  type KeyRequest,
  parseCsrJson,
  parseNamesFlag,
  profileFromConfig,
  type SigningProfile,
  type SubjectName,
} from './profile.js';
