// Goal: URL-shaped HTTP/2 authorities are recognized and cut to host:port, plain ones left alone.
// Method: a table of inputs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPlainAuthority, repairAuthority } from './h2-authority.js';

test('which authorities nghttp2 accepts, and how URL-shaped ones are repaired', () => {
  const cases: [string, boolean, string][] = [
    ['127.0.0.1:2379', true, '127.0.0.1:2379'],
    ['localhost', true, 'localhost'],
    ['[::1]:2379', true, '[::1]:2379'],
    ['http://127.0.0.1:2379', false, '127.0.0.1:2379'],
    ['https://etcd-0.etcd:2379/', false, 'etcd-0.etcd:2379'],
    ['unix://localhost:123', false, 'localhost:123'],
    ['http://user@host:1/path?q', false, 'host:1'],
  ];
  for (const [input, plain, repaired] of cases) {
    assert.equal(isPlainAuthority(input), plain, input);
    assert.equal(repairAuthority(input), repaired, input);
  }
});
