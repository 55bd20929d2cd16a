/** The entry the crash-test writer saves at (index, term): content checkable by the parent. */
import type { Entry } from '../../raft/types.js';

/** A 100-256 byte entry whose bytes are a function of (index, term). */
export function crashEntry(index: number, term: number): Entry {
  const size = 100 + ((index * 7919) % 157);
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 17 + i * 3) & 0xff;
  return { term, index, type: 0, data };
}
