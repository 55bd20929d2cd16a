/**
 * Goal: `tsetcd systemd` writes seed 002's unit, the same template filled as the seed's sed loop
 * fills it, and the units are valid for systemd.
 * Method: the seed's template (verbatim, as its heredoc writes it) filled with the seed's
 * environment by the seed's own substitutions must equal renderUnit's output with the seed's
 * ExecStart path; the CLI's files must pass `systemd-analyze verify` with no warning at all; bad
 * descriptions are refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkNodes, etcdNodes, parseNodes, renderUnit, SEED_SETTINGS, UnitError } from './systemd.js';

const ROOT = process.env.TSETCD_ROOT || resolve(fileURLToPath(import.meta.url), '../../../..');

/** Seed 002's etcd.service.template as its heredoc writes it (shell variables still unexpanded). */
const SEED_TEMPLATE = readFileSync(join(ROOT, 'src/cli/testdata/seed002-etcd.service.template'), 'utf8');

const NODES = [
  { name: 'k8s-01', ip: '172.31.39.151' },
  { name: 'k8s-02', ip: '172.31.32.72' },
];

/** What the seed's `source environment.sh` + heredoc + `sed` loop produce for one node. */
function seedUnit(node: { name: string; ip: string }): string {
  const env: Record<string, string> = {
    ETCD_DATA_DIR: SEED_SETTINGS.dataDir,
    ETCD_WAL_DIR: SEED_SETTINGS.walDir,
    ETCD_NODES: etcdNodes(NODES),
  };
  return SEED_TEMPLATE.replace(/\$\{(\w+)\}/g, (_, k: string) => env[k] ?? '')
    .split('\n')
    .map((line) => line.replace('##NODE_NAME##', node.name).replace('##NODE_IP##', node.ip)) // sed s///: first per line
    .join('\n');
}

describe('tsetcd systemd', () => {
  it("renders the seed's template filled, per member", () => {
    for (const n of NODES) {
      assert.equal(renderUnit(n, NODES, { ...SEED_SETTINGS, bin: '/opt/k8s/bin/etcd' }), seedUnit(n));
    }
    assert.equal(etcdNodes(NODES), 'k8s-01=https://172.31.39.151:2380,k8s-02=https://172.31.32.72:2380');
  });

  it('refuses bad descriptions', () => {
    const bad: [string, RegExp][] = [
      ['', /no members/],
      ['k8s-01', /not name=IP/],
      ['k8s-01=not-an-ip', /not an IP address/],
      ['a=10.0.0.1,a=10.0.0.2', /appears twice/],
      ['a=10.0.0.1,b=10.0.0.1', /appears twice/],
      ['a b=10.0.0.1', /spaces or quotes/],
    ];
    for (const [text, re] of bad) assert.throws(() => checkNodes(parseNodes(text), SEED_SETTINGS), re, text);
    assert.throws(
      () => checkNodes(parseNodes('a=10.0.0.1'), { ...SEED_SETTINGS, dataDir: 'rel' }),
      UnitError,
    );
  });

  const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;
  it('writes units that pass systemd-analyze verify without a warning', { skip: !analyze }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsetcd-systemd-'));
    try {
      const r = spawnSync(
        process.execPath,
        [
          join(ROOT, 'bin', 'tsetcd.js'),
          'systemd',
          '--nodes=k8s-01=172.31.39.151,k8s-02=172.31.32.72',
          `--bin=${join(ROOT, 'bin', 'tsetcd.js')}`,
          `--out-dir=${dir}`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      for (const n of NODES) {
        const unit = join(dir, `etcd-${n.ip}.service`);
        assert.match(readFileSync(unit, 'utf8'), new RegExp(`--name=${n.name} \\\\`));
        const v = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
        assert.equal(v.status, 0, v.stderr);
        assert.equal(v.stderr.trim(), '', `systemd-analyze warned: ${v.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
