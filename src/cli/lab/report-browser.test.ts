/**
 * Goal: the labs' HTML reports render in a real browser with the right numbers and need nothing
 * from the network.
 * Method: reports rendered from fixed results (no root needed), opened in headless Chromium
 * (Debian's `chromium`, driven by playwright-core); every request other than the page itself is
 * recorded and refused; each bar's drawn width is checked against its count (the largest bar is
 * full width) and each label against the numbers. Skipped, with the reason, without Chromium.
 * `LAB_SCREENSHOTS=DIR` also saves a PNG of each page.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { chromiumPath, chromiumSkip } from '../../../test/helpers/chromium.js';
import type { KubeLabResult } from './kube.js';
import type { LbResult } from './lb.js';
import { renderHtml } from './report.js';
import { renderLbHtml } from './report-lb.js';

const executablePath = chromiumPath();
const skip = chromiumSkip(executablePath);
let browser: Browser | undefined;
before(async () => {
  if (executablePath) browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
});
after(() => browser?.close());

const kube: KubeLabResult = {
  runId: 'fixture',
  replicas: 3,
  requests: 30,
  pods: {},
  namespaces: [],
  scenarios: [
    {
      id: 'grpc-headless-round-robin',
      title: 'gRPC: headless grpc-svc + round_robin',
      path: '/hellogrpc',
      expect: 'spread',
      requests: 30,
      failures: 0,
      backends: [
        { pod: 'hellogrpc-6dd9d78b49-j66hq', answers: 12 },
        { pod: 'hellogrpc-6dd9d78b49-z2zm9', answers: 9 },
        { pod: 'hellogrpc-6dd9d78b49-q2b4b', answers: 9 },
      ],
      gateways: [
        { pod: 'helloserve-84ff4df84d-q2b4b', answers: 30, backends: { 'hellogrpc-6dd9d78b49-j66hq': 12 } },
      ],
      podsReached: 3,
      podsPerGatewayMax: 3,
      dnsQueries: 3,
      asExpected: true,
    },
    {
      id: 'grpc-headless-pick-first',
      title: 'gRPC: headless grpc-svc + pick_first',
      path: '/hellogrpc',
      expect: 'one-per-gateway',
      requests: 30,
      failures: 0,
      backends: [
        { pod: 'hellogrpc-6dd9d78b49-j66hq', answers: 30 },
        { pod: 'hellogrpc-6dd9d78b49-z2zm9', answers: 0 },
      ],
      gateways: [],
      podsReached: 1,
      podsPerGatewayMax: 1,
      dnsQueries: 3,
      asExpected: false,
    },
  ],
  scale: [
    {
      id: 'scale-grpc-headless-max-age',
      title: 'gRPC: max connection age',
      expect: 'notices',
      from: 3,
      to: 5,
      requests: 80,
      failures: 0,
      noticedAfterMs: { a: 500, b: null },
      newShareBySecond: [0.25, 0.5, 0.4],
      answersAfter: 50,
      answersFromNew: 20,
      asExpected: true,
    },
  ],
};

const lb: LbResult = {
  binary: 'tsetcd',
  endpoints: ['127.0.0.1:12379', '127.0.0.1:22379', '127.0.0.1:32379'],
  rate: 100,
  policies: [
    {
      policy: 'round_robin',
      target: 'static endpoints',
      requests: 90,
      failures: 0,
      latencyMsP50: 2.1,
      latencyMsP99: 7.5,
      members: [
        {
          member: 'node1',
          endpoint: '127.0.0.1:12379',
          requests: 30,
          packets: 32,
          share: 1 / 3,
          latencyMsP50: 2,
          latencyMsP99: 6,
        },
        {
          member: 'node2',
          endpoint: '127.0.0.1:22379',
          requests: 29,
          packets: 31,
          share: 29 / 90,
          latencyMsP50: 2.2,
          latencyMsP99: 7.5,
        },
        {
          member: 'node3',
          endpoint: '127.0.0.1:32379',
          requests: 31,
          packets: 33,
          share: 31 / 90,
          latencyMsP50: 2.1,
          latencyMsP99: 7,
        },
      ],
      kill: {
        member: 'node3',
        wasLeader: false,
        afterPuts: 30,
        atMs: 1010,
        failoverMs: 40,
        failuresAfter: 0,
        putsAfter: [30, 30, 0],
      },
      timeline: [
        [10, 10, 10],
        [20, 19, 1],
      ],
      timelineFailures: [0, 0],
    },
  ],
};

/** Opens `html`; returns the page's bars (label, count, drawn width) and the refused requests. */
async function open(html: string, shot: string) {
  const page = await browser!.newPage();
  const refused: string[] = [];
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.route('**/*', (route) => {
    refused.push(route.request().url());
    return route.abort();
  });
  await page.setContent(html, { waitUntil: 'load' });
  const bars = await page.$$eval('rect.bar[data-answers]', (rects) =>
    rects.map((r) => ({
      section: r.closest('section')?.id ?? '',
      pod: r.getAttribute('data-pod') ?? '',
      answers: Number(r.getAttribute('data-answers')),
      width: r.getBoundingClientRect().width,
    })),
  );
  const text = (await page.locator('body').textContent()) ?? '';
  if (process.env.LAB_SCREENSHOTS)
    await page.screenshot({ path: join(process.env.LAB_SCREENSHOTS, shot), fullPage: true });
  await page.close();
  return { bars, text, refused, errors };
}

test('lab kube report: bars drawn to scale, numbers in the text, nothing fetched', { skip }, async () => {
  const { bars, text, refused, errors } = await open(renderHtml(kube), 'lab-kube.png');
  assert.deepEqual(refused, []);
  assert.deepEqual(errors, []);
  assert.equal(bars.length, 5);
  for (const sc of kube.scenarios) {
    const mine = bars.filter((b) => b.section === sc.id);
    assert.equal(mine.length, sc.backends.length, sc.id);
    const max = Math.max(...sc.backends.map((b) => b.answers));
    for (const [i, b] of sc.backends.entries()) {
      assert.deepEqual([mine[i]!.pod, mine[i]!.answers], [b.pod, b.answers]);
      assert.ok(
        Math.abs(mine[i]!.width - (b.answers / max) * 360) <= 1,
        `${sc.id} ${b.pod}: ${mine[i]!.width}`,
      );
    }
  }
  assert.match(text, /12 \(40%\)/);
  assert.match(text, /one pod per gateway \(not as expected\)/);
  assert.match(text, /0\.5 s, never/);
});

test('lab lb report: one chart per policy with each member to scale', { skip }, async () => {
  const { bars, text, refused } = await open(renderLbHtml(lb), 'lab-lb.png');
  assert.deepEqual(refused, []);
  assert.deepEqual(
    bars.map((b) => b.answers),
    [30, 29, 31],
  );
  for (const b of bars) assert.ok(Math.abs(b.width - (b.answers / 31) * 360) <= 1, `${b.pod}: ${b.width}`);
  assert.match(text, /round_robin/);
  assert.match(text, /127\.0\.0\.1:22379/);
  assert.match(text, /killed node3 after 30 Puts/);
  // The timeline: one stacked column per second, each member's segment its share of that second.
  const page = await browser!.newPage();
  await page.setContent(renderLbHtml(lb), { waitUntil: 'load' });
  const segs = await page.$$eval('rect.tl', (rects) =>
    rects.map((r) => ({
      second: Number(r.getAttribute('data-second')),
      member: r.getAttribute('data-member'),
      count: Number(r.getAttribute('data-count')),
      height: r.getBoundingClientRect().height,
    })),
  );
  await page.close();
  const second1 = segs.filter((x) => x.second === 1);
  assert.deepEqual(
    second1.map((x) => [x.member, x.count]),
    [
      ['node1', 20],
      ['node2', 19],
      ['node3', 1],
    ],
  );
  const total = second1.reduce((a, x) => a + x.height, 0);
  assert.ok(Math.abs(second1[0]!.height / total - 0.5) < 0.01, 'node1 half of second 1');
});
