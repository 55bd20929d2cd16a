/**
 * Goal: kube-proxy's rules as the lab writes them: one DNAT rule per Service with endpoints, the
 * chosen number generator, the target port, masquerade for DNAT'ed traffic, an atomic table swap.
 * Method: table test of the pure script builder; as root with nft installed, the script is also
 * loaded into a throwaway network namespace and listed back (nft's own parser is the judge).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { missingPrerequisites, NFT_TABLE, nftScript, type ServiceRule } from './net.js';

const services: ServiceRule[] = [
  { vip: '10.96.0.20', port: 80, targetPort: 8100, endpoints: ['10.244.0.21', '10.244.0.22', '10.244.0.23'] },
  { vip: '10.96.0.40', port: 8000, targetPort: 8000, endpoints: [] },
];

test('one DNAT rule per Service with endpoints, random or round robin', () => {
  for (const [mode, gen] of [
    ['random', 'random'],
    ['round-robin', 'inc'],
  ] as const) {
    const lines = nftScript(services, mode).trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), [
      `add table ip ${NFT_TABLE}`,
      `delete table ip ${NFT_TABLE}`,
      `add table ip ${NFT_TABLE}`,
    ]);
    assert.ok(lines.includes(`add rule ip ${NFT_TABLE} postrouting ct status dnat masquerade`));
    const dnat = lines.filter((l) => l.includes('dnat to'));
    assert.deepEqual(dnat, [
      `add rule ip ${NFT_TABLE} prerouting ip daddr 10.96.0.20 tcp dport 80 dnat to numgen ${gen} mod 3 map { 0 : 10.244.0.21, 1 : 10.244.0.22, 2 : 10.244.0.23 } : 8100`,
    ]);
  }
});

const skip = missingPrerequisites().length > 0 ? `needs ${missingPrerequisites().join(', ')}` : false;
test('nft accepts the script and lists the rules back', { skip }, () => {
  const ns = `tslt${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    for (const mode of ['random', 'round-robin'] as const)
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: nftScript(services, mode) });
    const listed = execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'ip', NFT_TABLE], {
      encoding: 'utf8',
    });
    assert.match(
      listed,
      /ip daddr 10\.96\.0\.20 tcp dport 80 dnat to numgen inc mod 3 map \{ 0 : 10\.244\.0\.21, 1 : 10\.244\.0\.22, 2 : 10\.244\.0\.23 \}:8100/,
    );
    assert.doesNotMatch(listed, /numgen random/, 'the second load replaced the first');
    assert.match(listed, /ct status dnat masquerade/);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});
