// Goal: member and cluster ids are derived as etcd derives them. Method: etcd's well-known ids for its
// default flags (member 8e9e05c52164694d, cluster cdf818194e3a8c32, seen in every default etcd's
// `member list`) and order independence.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeClusterId, computeMemberId } from './ids.js';

test("etcd's default member and cluster ids", () => {
  const member = computeMemberId(['http://localhost:2380'], 'etcd-cluster');
  assert.equal(member.toString(16), '8e9e05c52164694d');
  assert.equal(computeClusterId([member]).toString(16), 'cdf818194e3a8c32');
});

test('peer URL order and member order do not matter', () => {
  const a = computeMemberId(['http://b:2380', 'http://a:2380'], 't');
  assert.equal(a, computeMemberId(['http://a:2380', 'http://b:2380'], 't'));
  assert.notEqual(a, computeMemberId(['http://a:2380', 'http://b:2380'], 'other-token'));
  assert.equal(computeClusterId([1n, 2n, 3n]), computeClusterId([3n, 1n, 2n]));
});
