// Goal: crc32c matches the published CRC-32C check values and chains like Go's crc32.Update.
// Method: table of known vectors (RFC 3720 B.4 and the "123456789" check value), then a
// fast-check property that splitting the input anywhere gives the same chained result as a
// bit-at-a-time reference implementation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c } from './crc32c.js';

function reference(data: Uint8Array, prev = 0): number {
  let c = ~prev >>> 0;
  for (const b of data) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

test('known check values', () => {
  const table: [Uint8Array, number][] = [
    [new Uint8Array(0), 0],
    [new TextEncoder().encode('123456789'), 0xe3069283],
    [new Uint8Array(32), 0x8a9136aa],
    [new Uint8Array(32).fill(0xff), 0x62a8ab43],
    [Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    [Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
  ];
  for (const [data, want] of table) assert.equal(crc32c(data), want, `len ${data.length}`);
});

test('matches the bitwise reference and chains across any split', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(),
      fc.nat({ max: 0xffffffff }),
      (data, cut, prev) => {
        const k = data.length === 0 ? 0 : cut % (data.length + 1);
        const whole = crc32c(data, prev);
        assert.equal(whole, reference(data, prev));
        assert.equal(crc32c(data.subarray(k), crc32c(data.subarray(0, k), prev)), whole);
        assert.equal(crc32c(data, prev, 0, k), reference(data.subarray(0, k), prev));
      },
    ),
  );
});
