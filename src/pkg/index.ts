/** Generic helpers with nothing etcd-specific: assertions, seeded randomness. */
export { AssertionError, assert, unreachable } from './assert.js';
export { type Rng, SeededRng } from './rng.js';
