/**
 * Goal: tables render in etcdctl's `-w table` layout (so tsetcdctl can reuse them) and in a plain
 * layout, with the asked alignment. Method: compare rendered strings with literal expectations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pad, renderTable } from './table.js';

test('box style matches etcdctl: centered header, framed rows, right-aligned cells', () => {
  const got = renderTable({
    header: ['ENDPOINT', 'VERSION', 'IS LEADER'],
    rows: [['127.0.0.1:2379', '3.4.23', 'true']],
    align: ['right', 'right', 'right'],
  });
  // Same shape as `etcdctl endpoint status -w table` from etcd 3.4.
  assert.equal(
    got,
    [
      '+----------------+---------+-----------+',
      '|    ENDPOINT    | VERSION | IS LEADER |',
      '+----------------+---------+-----------+',
      '| 127.0.0.1:2379 |  3.4.23 |      true |',
      '+----------------+---------+-----------+',
      '',
    ].join('\n'),
  );
});

test('plain style: two-space gaps, no frame, no trailing spaces', () => {
  const got = renderTable({
    header: ['NAME', 'N'],
    rows: [
      ['a', '1'],
      ['longer', '100'],
    ],
    align: ['left', 'right'],
    style: 'plain',
  });
  assert.equal(got, 'NAME    N\na         1\nlonger  100\n');
});

test('rows with the wrong number of cells are rejected', () => {
  assert.throws(() => renderTable({ header: ['A', 'B'], rows: [['x']] }), /row 0 has 1 cells, header has 2/);
});

test('pad: left, right, center, never truncates', () => {
  assert.equal(pad('ab', 5, 'left'), 'ab   ');
  assert.equal(pad('ab', 5, 'right'), '   ab');
  assert.equal(pad('ab', 5, 'center'), ' ab  ');
  assert.equal(pad('abcdef', 3, 'left'), 'abcdef');
});
