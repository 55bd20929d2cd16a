/** Generic helpers with nothing etcd-specific: assertions, seeded randomness. */
export { AssertionError, assert, unreachable } from './assert.js';
export { type Clock, ManualClock, RealClock, realClock, type Timer } from './clock.js';
export { crc32c } from './crc32c.js';
export { parseDurationMs } from './duration.js';
export { collectBodyCapped } from './http-body.js';
export { clearUnixSocket, type ListenAddress, listenForwarding, listenOn } from './listen.js';
export { type Rng, SeededRng } from './rng.js';
