/**
 * Goal: the scale-up experiment of `tsetcd lab kube --scale` shows what the issue describes — grpc-js
 * behind a headless Service never sees pods added mid-run, a server max connection age makes every
 * gateway see them within seconds, HTTP/1.1 with a connection per request sees them at once — and
 * cleans up after itself. A long run (about a minute here): `npm run test:lab`, also in test:faults.
 * Method: the real command as root with `--scale -w json --html`, one scenario besides; checks the
 * JSON, the HTML's per-second bars, and that no namespace, /etc/netns entry or state file remains.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KubeLabResult } from './kube.js';
import { missingPrerequisites, STATE_DIR } from './net.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const missing = missingPrerequisites();
const skip = missing.length > 0 ? `needs ${missing.join(', ')}` : false;
const tmp = mkdtempSync(join(tmpdir(), 'tsetcd-lab-scale-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('scaling up mid-run: gRPC needs a max connection age to notice, HTTP/1.1 notices at once', {
  skip,
  timeout: 240_000,
}, async () => {
  const html = join(tmp, 'scale.html');
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin', 'tsetcd.js'),
      'lab',
      'kube',
      '-n',
      '30',
      '--scenario',
      'grpc-headless-round-robin',
      '--scale',
      '-w',
      'json',
      '--html',
      html,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  const r = JSON.parse(out) as KubeLabResult;
  assert.equal(
    execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(`tsl${r.runId}-`),
    false,
    'namespaces removed',
  );
  assert.ok(!existsSync(join(STATE_DIR, `${r.runId}.json`)));
  assert.equal(code, 0, err);
  const by = new Map((r.scale ?? []).map((s) => [s.id, s]));
  const plain = by.get('scale-grpc-headless')!;
  assert.equal(plain.answersFromNew, 0, 'grpc-js does not re-resolve while its connections live');
  assert.ok(Object.values(plain.noticedAfterMs).every((n) => n === null));
  for (const id of ['scale-grpc-headless-max-age', 'scale-http-per-request']) {
    const s = by.get(id)!;
    assert.equal(s.failures, 0, id);
    for (const [g, ms] of Object.entries(s.noticedAfterMs))
      assert.ok(ms !== null && ms < 5000, `${id}: ${g} ${ms}`);
  }
  const page = readFileSync(html, 'utf8');
  for (const s of r.scale!)
    for (const [i, f] of s.newShareBySecond.entries())
      assert.ok(page.includes(`data-second="${i}" data-share="${f.toFixed(3)}"`));
});
