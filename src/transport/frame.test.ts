/**
 * Goal: the frame codec of message streams splits and joins exactly, whatever the chunking, and
 * refuses an oversized length as soon as the header shows it.
 * Method: table cases for the edges (empty, heartbeat, exact bound, bound + 1, header split across
 * chunks) and a fast-check property: random payloads, encoded in random batches, cut at random
 * points, decode to the same payloads in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TransportError } from './errors.js';
import { encodeFrames, FrameDecoder } from './frame.js';

const u8 = (...xs: number[]) => new Uint8Array(xs);
const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

test('frame table cases', () => {
  const cases: { name: string; chunks: Buffer[]; max: number; want: string[] | 'too-large' }[] = [
    { name: 'empty input', chunks: [], max: 10, want: [] },
    { name: 'one frame', chunks: [encodeFrames([u8(1, 2, 3)])], max: 10, want: ['010203'] },
    { name: 'heartbeat (length 0) is skipped', chunks: [encodeFrames([u8(), u8(9)])], max: 10, want: ['09'] },
    {
      name: 'exactly the bound',
      chunks: [encodeFrames([new Uint8Array(4).fill(7)])],
      max: 4,
      want: ['07070707'],
    },
    { name: 'bound + 1', chunks: [encodeFrames([new Uint8Array(5)])], max: 4, want: 'too-large' },
    {
      name: 'oversized length seen from the header alone',
      chunks: [Buffer.from([0xff, 0xff, 0xff, 0xff])],
      max: 1 << 20,
      want: 'too-large',
    },
    {
      name: 'header split over three chunks',
      chunks: [Buffer.from([0]), Buffer.from([0, 0]), Buffer.from([2, 0xaa, 0xbb])],
      max: 10,
      want: ['aabb'],
    },
    {
      name: 'two frames and a partial third',
      chunks: [Buffer.concat([encodeFrames([u8(1), u8(2)]), Buffer.from([0, 0, 0, 5, 1])])],
      max: 10,
      want: ['01', '02'],
    },
  ];
  for (const c of cases) {
    const d = new FrameDecoder(c.max);
    const got: Buffer[] = [];
    try {
      for (const ch of c.chunks) got.push(...d.push(ch));
    } catch (err) {
      assert.ok(err instanceof TransportError, c.name);
      assert.equal(err.code, 'frame-too-large', c.name);
      assert.equal(c.want, 'too-large', c.name);
      continue;
    }
    assert.deepEqual(hex(got), c.want, c.name);
  }
});

test('a decoder refuses to be used after a framing error', () => {
  const d = new FrameDecoder(1);
  assert.throws(() => d.push(encodeFrames([u8(1, 2)])), TransportError);
  assert.throws(() => d.push(encodeFrames([u8(1)])), /used after a framing error/);
});

test('property: any chunking of any batches decodes to the payloads in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { maxLength: 40 }),
      fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 10 }),
      (payloads, cuts, batchSize) => {
        const wire: Buffer[] = [];
        for (let i = 0; i < payloads.length; i += batchSize)
          wire.push(encodeFrames(payloads.slice(i, i + batchSize)));
        const all = Buffer.concat(wire);
        const d = new FrameDecoder(300);
        const got: Buffer[] = [];
        let pos = 0;
        let k = 0;
        while (pos < all.length) {
          const n = cuts[k++ % cuts.length]!;
          got.push(...d.push(all.subarray(pos, pos + n)));
          pos += n;
        }
        assert.deepEqual(
          hex(got),
          payloads.filter((p) => p.length > 0).map((p) => Buffer.from(p).toString('hex')),
        );
        assert.equal(d.pendingBytes, 0);
      },
    ),
    { seed: 1234, numRuns: 300 },
  );
});
