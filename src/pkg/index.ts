/** Generic helpers with nothing etcd-specific: assertions, seeded randomness. */
export { AssertionError, assert, unreachable } from './assert.js';
export { crc32c } from './crc32c.js';
export { type Rng, SeededRng } from './rng.js';
