/**
 * Goal: `tsetcd dashboard` shows a live 3-member cluster in a real browser: the leader, a new leader
 * after the old one is killed, a put within a second, a prefix of 10,000 keys paged without freezing
 * the page, and writes refused without --enable-writes (and accepted with it).
 * Method: three tsetcd processes on free ports; the dashboard started in-process (read-only, 200 ms
 * polls); the page opened in headless Chromium (Debian's `chromium`, playwright-core) with every
 * request to another origin recorded and refused; the page's DOM read through its ids and data-
 * attributes; long tasks (> 200 ms on the page's main thread) recorded by a PerformanceObserver
 * while paging. Skipped, with the reason, without Chromium. `DASHBOARD_SCREENSHOTS=DIR` also saves
 * PNGs of the page (docs/images/dashboard-*.png come from there).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { Client, op } from '../../src/client/index.js';
import { type RunningDashboard, startDashboard, WRITES_DISABLED } from '../../src/dashboard/index.js';
import { chromiumPath, chromiumSkip } from '../helpers/chromium.js';
import { endpoints, kill, type Proc, planCluster, startAll, stopAll } from '../helpers/cluster.js';
import { tempDir, waitFor } from '../helpers/util.js';

const executablePath = chromiumPath();
const skip = chromiumSkip(executablePath);
const shots = process.env.DASHBOARD_SCREENSHOTS;
const BIG = 10_000;

let browser: Browser | undefined;
let procs: Proc[] = [];
let client: Client | undefined;
let dash: RunningDashboard | undefined;
let page: Page | undefined;
const offsite: string[] = [];
const dir = tempDir('tsetcd-dashboard-');

before(async () => {
  if (!executablePath) return;
  procs = await planCluster(dir.path, 3);
  await startAll(procs);
  const eps = endpoints(procs).split(',');
  client = new Client({ endpoints: eps, callTimeoutMs: 10_000 });
  dash = await startDashboard({
    client: { endpoints: eps, callTimeoutMs: 5000 },
    listen: 'http://127.0.0.1:0',
    writesEnabled: false,
    pollIntervalMs: 200,
  });
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const origin = new URL(dash.url).origin;
  await page.route('**/*', (route) => {
    if (new URL(route.request().url()).origin === origin) return route.continue();
    offsite.push(route.request().url());
    return route.abort();
  });
});

after(async () => {
  await page?.close();
  await browser?.close();
  await dash?.close();
  client?.close();
  await stopAll(procs);
  dir.remove();
});

async function shot(name: string): Promise<void> {
  if (shots) await page!.screenshot({ path: join(shots, `dashboard-${name}.png`), fullPage: true });
}

async function leaderId(): Promise<string> {
  const st = await client!.maintenance.status();
  return st.leader.toString(16);
}

test('dashboard in headless Chromium against a live 3-member cluster', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const p = page!;
  await t.test('serves the page with the right content types and nothing from the network', async () => {
    const res = await fetch(dash!.url);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    const js = await fetch(new URL('app.js', dash!.url));
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    const css = await fetch(new URL('app.css', dash!.url));
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    await p.goto(dash!.url);
    await p.waitForSelector('#leader');
    assert.deepEqual(offsite, []);
  });

  await t.test('shows the leader and every member', async () => {
    const want = await leaderId();
    await waitFor(async () => (await p.getAttribute('#leader', 'data-leader')) === want, {
      timeoutMs: 10_000,
      what: `the page shows leader ${want}`,
    });
    const rows = await p.$$eval('tr[data-member-id]', (trs) =>
      trs.map((tr) => [tr.getAttribute('data-member-id'), tr.getAttribute('data-role')]),
    );
    assert.equal(rows.length, 3);
    assert.deepEqual(
      rows.filter(([, role]) => role === 'leader').map(([id]) => id),
      [want],
    );
  });

  await t.test('shows a put within a second (watch tail)', async () => {
    await p.waitForSelector('#watch-status:text("watching")', { timeout: 10_000 });
    const t0 = Date.now();
    await client!.kv.put('dash/probe', 'hello');
    await p.waitForSelector('#watch-tail li[data-key="dash/probe"]', { timeout: 1000 });
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `put shown after ${ms} ms`);
  });

  await t.test('pages through a prefix of 10,000 keys without freezing', async () => {
    for (let i = 0; i < BIG; i += 100) {
      const ops = Array.from({ length: 100 }, (_, j) =>
        op.put(`big/${String(i + j).padStart(5, '0')}`, `v${i + j}`),
      );
      await client!.kv
        .txn()
        .onSuccess(...ops)
        .commit();
    }
    // Runs in the page (a string, since this file is type-checked without DOM types).
    await p.evaluate(`(() => {
      window.longTasks = [];
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) window.longTasks.push(e.duration);
      }).observe({ type: 'longtask', buffered: false });
    })()`);
    await p.fill('#prefix-input', 'big/');
    await p.press('#prefix-input', 'Enter');
    await p.waitForSelector(`#keys-summary:text("${BIG} keys under")`, { timeout: 15_000 });
    const first = await p.$$eval('#keys li[data-key]', (lis) => lis.map((li) => li.getAttribute('data-key')));
    assert.equal(first.length, 100);
    assert.equal(first[0], 'big/00000');
    assert.equal(first[99], 'big/00099');
    for (let n = 2; n <= 5; n++) {
      await p.click('#keys-next');
      await p.waitForSelector(`#keys-summary:text("page ${n}")`, { timeout: 5000 });
      await p.waitForSelector(`#keys li[data-key="big/${String((n - 1) * 100).padStart(5, '0')}"]`, {
        timeout: 5000,
      });
    }
    await p.click('#keys-prev');
    await p.waitForSelector('#keys li[data-key="big/00300"]', { timeout: 5000 });
    // Frozen = the page's main thread busy for half a second or more at once (under a loaded
    // machine a task may take a few times its idle time; an unpaged list of 10,000 rows takes seconds).
    const long = (await p.evaluate('window.longTasks')) as number[];
    assert.ok(
      long.every((d) => d < 500),
      `main-thread tasks over 500 ms while paging: ${long.join(', ')}`,
    );
    await p.click('#keys li[data-key="big/00300"] button');
    await p.waitForSelector('#key-value:text("v300")', { timeout: 5000 });
    await shot('keys');
  });

  await t.test('shows a key history and a diff between revisions', async () => {
    await client!.kv.put('dash/cfg', 'a\nb\nc');
    await client!.kv.put('dash/cfg', 'a\nB\nc\nd');
    // The root of the tree: one entry per top-level prefix, however many keys lie below.
    await p.fill('#prefix-input', '');
    await p.press('#prefix-input', 'Enter');
    await p.waitForSelector('#keys li.dir[data-key="dash/"]', { timeout: 5000 });
    const root = await p.$$eval('#keys li[data-key]', (lis) => lis.map((li) => li.getAttribute('data-key')));
    assert.deepEqual(root, ['big/', 'dash/']);
    await p.fill('#prefix-input', 'dash/');
    await p.press('#prefix-input', 'Enter');
    await waitFor(async () => (await p.textContent('#keys-summary'))?.includes('under “dash/”'), {
      timeoutMs: 15_000,
      what: 'the dash/ page',
    }).catch(async (e: Error) => {
      const html = await p.innerHTML('#keys');
      throw new Error(`${e.message}\n${html.slice(0, 3000)}`);
    });
    await p.click('#keys li[data-key="dash/cfg"] button', { timeout: 5000 });
    await p.waitForSelector('#key-diff', { timeout: 5000 });
    const revs = await p.$$eval('#key-detail tr[data-rev]', (trs) => trs.length);
    assert.equal(revs, 2);
    const diff = await p.$$eval('#key-diff .d', (ds) => ds.map((d) => d.textContent));
    assert.deepEqual(diff, ['  a', '- b', '+ B', '  c', '+ d']);
    await shot('history');
  });

  await t.test('lists leases with their TTL and keys', async () => {
    const lease = await client!.lease.grantRaw(600);
    await client!.kv.put('dash/leased', 'x', { lease: lease.ID });
    const id = lease.ID.toString(16);
    await p.waitForSelector(`#leases tr[data-lease="${id}"]`, { timeout: 10_000 });
    const row = await p.textContent(`#leases tr[data-lease="${id}"]`);
    assert.match(row ?? '', /dash\/leased/);
    assert.match(row ?? '', /600s/);
    await p.fill('#prefix-input', '');
    await p.press('#prefix-input', 'Enter');
    await p.waitForSelector('#keys li.dir[data-key="dash/"]', { timeout: 5000 });
    await shot('overview');
  });

  await t.test('refuses writes without --enable-writes', async () => {
    const answer = await p.evaluate(async () => {
      const r = await fetch('api/put', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ keyB64: btoa('dash/refused'), value: 'x' }),
      });
      return { status: r.status, body: (await r.json()) as { error: string } };
    });
    assert.deepEqual(answer, { status: 403, body: { error: WRITES_DISABLED } });
    assert.equal((await client!.kv.get('dash/refused')).kvs.length, 0);
    assert.equal(await p.$('#put'), null, 'no put form on a read-only dashboard');
  });

  await t.test('follows a new leader when the leader is killed', async () => {
    const old = await leaderId();
    const members = (await client!.cluster.list()).members;
    const name = members.find((m) => m.ID.toString(16) === old)!.name;
    await kill(procs.find((pr) => pr.name === name)!);
    await waitFor(
      async () => {
        const shown = await p.getAttribute('#leader', 'data-leader');
        return shown !== old && shown !== '' && shown !== null;
      },
      { timeoutMs: 15_000, what: 'a new leader on the page' },
    );
    await p.waitForSelector(`tr[data-member-id="${old}"][data-role="unknown"]`, { timeout: 5000 });
    const kinds = await p.$$eval('.timeline li', (lis) => lis.map((li) => li.getAttribute('data-kind')));
    assert.ok(kinds.includes('member-down'), `timeline: ${kinds.join(',')}`);
    assert.ok(kinds.filter((k) => k === 'leader').length >= 2, `timeline: ${kinds.join(',')}`);
    await shot('failover');
    assert.deepEqual(offsite, []);
  });
});

test('writes go through with --enable-writes', { skip, timeout: 30_000 }, async () => {
  const eps = endpoints(
    procs.filter((pr) => pr.child && pr.child.exitCode === null && pr.child.signalCode === null),
  );
  const rw = await startDashboard({
    client: { endpoints: eps.split(','), callTimeoutMs: 5000 },
    listen: 'http://127.0.0.1:0',
    writesEnabled: true,
    pollIntervalMs: 1000,
  });
  try {
    const put = await fetch(new URL('api/put', rw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ keyB64: Buffer.from('dash/written').toString('base64'), value: 'yes' }),
    });
    assert.equal(put.status, 200);
    assert.equal((await client!.kv.get('dash/written')).kvs[0]?.value.toString(), 'yes');
    const cross = await fetch(new URL('api/delete', rw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify({ keyB64: Buffer.from('dash/written').toString('base64') }),
    });
    assert.equal(cross.status, 403);
    assert.equal((await client!.kv.get('dash/written')).kvs.length, 1);
  } finally {
    await rw.close();
  }
});
