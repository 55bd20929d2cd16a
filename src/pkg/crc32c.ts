/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum etcd's WAL and snapshots use.
 * Table-driven, slicing-by-8: eight 256-entry tables let the inner loop consume 8 bytes per step.
 *
 * `crc32c(data, prev)` continues a running checksum: `crc32c(b, crc32c(a)) === crc32c(a ++ b)`,
 * the same contract as Go's `crc32.Update(prev, castagnoliTable, data)`. A fresh checksum starts
 * from `prev = 0`. Results are unsigned 32-bit numbers.
 */

const POLY = 0x82f63b78;

/** tables[k][b]: the CRC contribution of byte b followed by k zero bytes. */
const tables: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  const t0 = t[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t0[n]!;
    for (let k = 1; k < 8; k++) {
      c = (t0[c & 0xff]! ^ (c >>> 8)) >>> 0;
      t[k]![n] = c;
    }
  }
  return t;
})();
const T0 = tables[0]!;
const T1 = tables[1]!;
const T2 = tables[2]!;
const T3 = tables[3]!;
const T4 = tables[4]!;
const T5 = tables[5]!;
const T6 = tables[6]!;
const T7 = tables[7]!;

/**
 * The CRC-32C of `data[start, end)` continuing from `prev` (0 for a fresh checksum).
 * `start`/`end` default to the whole array; they must satisfy 0 <= start <= end <= data.length.
 */
export function crc32c(data: Uint8Array, prev = 0, start = 0, end = data.length): number {
  let c = ~prev >>> 0;
  let i = start;
  const fast = end - ((end - i) & 7);
  while (i < fast) {
    const lo = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    c =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[data[i + 4]!]! ^
      T2[data[i + 5]!]! ^
      T1[data[i + 6]!]! ^
      T0[data[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    c = T0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}
