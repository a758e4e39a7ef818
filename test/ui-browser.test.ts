/**
 * The web page in a real headless Chromium against a real server (Fastify + apimeter + apimeterApi on
 * loopback, with traffic this test sent): login, the views, sorting, filtering, charts, XSS payloads.
 * Any console error, page error, failed request or HTTP error fails the test. Screenshots go to
 * .test-out/ (git-ignored).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { chromiumMissing, openBrowser } from './helpers/browser.js';
import type { Browser } from './helpers/browser.js';
import {
  startUiServer,
  TOKEN,
  XSS_CLASS,
  XSS_CONSUMER,
  XSS_MESSAGE,
  XSS_ROUTE,
  XSS_TRACE,
} from './helpers/ui-server.js';
import type { UiServer } from './helpers/ui-server.js';

// Code run inside the page by page.evaluate(): the browser's globals, untyped here (no DOM lib in Node's tsconfig).
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const window: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const OUT = new URL('../.test-out/', import.meta.url);
const UI = '/api/v2/metrics/ui';

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, OUT).pathname, fullPage: true });
}

/** The texts of column `index` (0-based) of the endpoints table. */
const column = (page: Page, index: number) =>
  page.$$eval(`#endpoints-table tbody tr td:nth-child(${index + 1})`, (tds) => tds.map((td) => td.textContent ?? ''));

/** Waits for the table's paging line to read `info` (and its first route to be `route`). */
async function until(page: Page, info: string, route?: string): Promise<void> {
  await page.waitForFunction(
    ([i, r]) =>
      document.getElementById('endpoints-info')?.textContent === i &&
      (r === undefined ||
        r === null ||
        document.querySelector('#endpoints-table tbody tr td:nth-child(2)')?.textContent === r),
    [info, route] as const,
  );
}

/** Non-transparent pixels drawn on the canvases inside `selector`. */
const inked = (page: Page, selector: string) =>
  page.$$eval(`${selector} canvas`, (canvases) =>
    canvases.map((c) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
      return n;
    }),
  );

describe('web page in headless Chromium', { skip: chromiumMissing }, () => {
  let s: UiServer;
  let b: Browser;
  before(async () => {
    s = await startUiServer();
    b = await openBrowser();
  });
  after(async () => {
    await b?.close();
    await s?.close();
  });

  test('login: the form sets the cookie, the token stays out of the URL and of script reach', async () => {
    const { page, context } = b;
    await page.goto(s.base + UI);
    await page.waitForSelector('#token');
    await shot(page, 'login');
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('#summary-cards .card');
    assert.doesNotMatch(page.url(), new RegExp(TOKEN));
    const [cookie] = await context.cookies(s.base + '/api/v2/metrics/summary');
    assert.equal(cookie.name, 'apimeter_token');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie), '');
    assert.deepEqual(b.problems, []);
  });

  test('overview: cards with the traffic sent, charts drawn, top lists', async () => {
    const { page } = b;
    await page.waitForFunction(() => document.querySelectorAll('#summary-cards .card').length >= 4);
    const first = await page.textContent('#summary-cards .card .value');
    const total = [...s.sent.values()].reduce((a, n) => a + n, 0) + 3; // + the XSS endpoint's 3
    assert.equal(first?.replace(/,/g, ''), String(total));
    await page.waitForFunction(() => document.querySelectorAll('.grid2 canvas').length >= 2);
    await page.waitForFunction(() => document.querySelectorAll('.u-legend th').length > 1);
    assert.ok(
      (await inked(page, '.grid2')).some((n) => n > 50),
      'the charts drew something',
    );
    // The whole API's series (from /summary), not a few endpoints' lines.
    const labels = await page.$$eval('.grid2 .u-legend .u-label', (els) => els.map((e) => e.textContent));
    for (const l of ['requests/s', 'p50', 'p95', 'p99'])
      assert.ok(labels.includes(l), `legend ${l} in ${labels.join(', ')}`);
    await shot(page, 'overview');
    assert.deepEqual(b.problems, []);
  });

  test('endpoints table: counts, sort by p95 (keyboard), filters, paging info', async () => {
    const { page } = b;
    await page.click('nav a[data-view=endpoints]');
    await page.waitForSelector('#endpoints-table tbody tr td a');
    await page.waitForFunction(() => /of \d+/.test(document.getElementById('endpoints-info')?.textContent ?? ''));
    const routes = await column(page, 1);
    const counts = await column(page, 2);
    const items = routes.indexOf('GET /items/{id}');
    assert.notEqual(items, -1, routes.join(' | '));
    assert.equal(counts[items], String(s.sent.get('GET /items/:id')));
    assert.equal(await page.textContent('#endpoints-info'), `1–5 of 5`);

    // Sort by p95 with the keyboard: the header is a button.
    await page.focus('th[data-key=p95] button');
    await page.keyboard.press('Enter');
    await page.waitForSelector('th[data-key=p95][aria-sort=descending]');
    await page.waitForFunction(
      () => document.querySelector('#endpoints-table tbody tr td:nth-child(2)')?.textContent === 'GET /slow/{ms}',
    );
    await shot(page, 'endpoints');

    await page.fill('#filter-search', 'orders');
    await until(page, '1–1 of 1', 'POST /orders');
    await page.fill('#filter-search', '');
    await until(page, '1–5 of 5');
    await page.fill('#filter-search', 'o');
    await page.selectOption('#filter-method', 'GET');
    await until(page, '1–3 of 3'); // routes with an "o", method GET: not POST /orders nor GET /items/{id}
    assert.deepEqual((await column(page, 1)).sort(), ['GET /boom', 'GET /slow/{ms}', `GET ${XSS_ROUTE}`]);
    await page.fill('#filter-search', '');
    await page.selectOption('#filter-method', '');
    await page.fill('#filter-status', '404');
    await until(page, '1–1 of 1', 'GET /items/{id}');
    const csv = await page.getAttribute('#csv-link', 'href');
    assert.match(csv ?? '', /format=csv/);
    const download = await page.evaluate(async (url) => (await fetch(url!)).text(), csv);
    assert.match(download, /^method,route,count/);
    assert.match(download, /GET,\/items\/\{id\},60/);
    await page.fill('#filter-status', '');
    await until(page, '1–5 of 5');
    assert.deepEqual(b.problems, []);
  });

  test('endpoint page: percentile and traffic charts with data, status codes', async () => {
    const { page } = b;
    await until(page, '1–5 of 5');
    await page.click('#endpoints-table a:text-is("GET /items/{id}")');
    await page.waitForSelector('#endpoint-title');
    assert.equal(await page.textContent('#endpoint-title'), 'GET /items/{id}');
    await page.waitForFunction(() => document.querySelectorAll('.grid2 canvas').length >= 2);
    await page.waitForSelector('text=Status codes');
    assert.ok(
      (await inked(page, '.grid2')).every((n) => n > 50),
      'both charts drew',
    );
    const text = (await page.textContent('main')) ?? '';
    assert.match(text, /404\s*12/); // ids 5, 10, … 60 answered 404
    assert.match(text, /200\s*48/);
    await shot(page, 'endpoint');
    assert.deepEqual(b.problems, []);
  });

  test('XSS: markup in routes, messages, classes and trace ids is shown as text and never runs', async () => {
    const { page } = b;
    await page.goto('about:blank');
    await page.goto(`${s.base}${UI}#/endpoints`);
    await until(page, '1–5 of 5');
    assert.ok((await column(page, 1)).includes(`GET ${XSS_ROUTE}`));
    await page.goto(`${s.base}${UI}#/endpoint/${encodeURIComponent(`GET ${XSS_ROUTE}`)}`);
    await page.waitForSelector('text=Trace exemplars');
    await page.waitForFunction((m) => (document.querySelector('main')?.textContent ?? '').includes(m), XSS_MESSAGE);
    const text = (await page.textContent('main')) ?? '';
    for (const payload of [XSS_ROUTE, XSS_MESSAGE, XSS_TRACE, XSS_CLASS]) assert.ok(text.includes(payload), payload);
    const links = await page.$$eval('main a[href^="https://traces.example/"]', (as) =>
      as.map((a) => a.getAttribute('href')),
    );
    assert.ok(links.length >= 1);
    assert.ok(
      links.every((href) => href?.startsWith(`https://traces.example/trace/${encodeURIComponent(XSS_TRACE)}?span=`)),
    );
    assert.equal(await page.$$eval('main img, main script, main svg', (els) => els.length), 0);
    await page.goto(`${s.base}${UI}#/overview`);
    await page.waitForSelector('#summary-cards .card');
    await page.waitForFunction(() => document.querySelectorAll('.grid3 a').length > 0);
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined);
    assert.deepEqual(b.dialogs, []);
    assert.deepEqual(b.problems, []);
  });

  test('alerts and SLOs view: a pending or firing alert is listed', async (t) => {
    const { page } = b;
    const hasAlerts = await page.evaluate(async () => {
      const doc = (await (await fetch('/api/v2/metrics/openapi.json')).json()) as { paths?: object };
      return Object.keys(doc.paths ?? {}).some((p) => p.endsWith('/alerts'));
    });
    if (!hasAlerts) {
      await page.click('nav a[data-view=alerts]');
      await page.waitForSelector('#alerts-box > *');
      assert.match((await page.textContent('#alerts-box')) ?? '', /Alerts not configured/);
      assert.deepEqual(b.problems, []);
      t.skip('the alerts API is not on this branch: checked that the view says "alerts not configured"');
      return;
    }
    // Loaded by path: the alerts module exists only where the alerts API does.
    const start = new URL('../src/alerts/start.js', import.meta.url).href;
    const { startAlerts } = (await import(start)) as {
      startAlerts: (meter: unknown, o: object) => { evaluateNow(): Promise<void>; close(): Promise<void> };
    };
    const alerts = startAlerts(s.meter, { intervalSeconds: 0 });
    try {
      // 25 answers of 500 (the default HighErrorRate rule needs 20 requests) make it pending at once.
      await Promise.all(Array.from({ length: 25 }, () => fetch(`${s.base}/boom`).then((r) => r.arrayBuffer())));
      await alerts.evaluateNow();
      await page.click('nav a[data-view=alerts]');
      await page.waitForSelector('#alerts-box table');
      await page.waitForFunction(() => /HighErrorRate/.test(document.getElementById('alerts-box')?.textContent ?? ''));
      const rows = await page.$$eval('#alerts-box tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
      assert.ok(
        rows.some((r) => /^(pending|firing)HighErrorRateGET \/boom/.test(r)),
        rows.join('\n'),
      );
      await shot(page, 'alerts');
      assert.deepEqual(b.problems, []);
    } finally {
      await alerts.close();
    }
  });

  test('consumers view: every consumer with the requests the test sent, ids shown as text, detail by click', async () => {
    const { page } = b;
    await page.click('nav a[data-view=consumers]');
    await page.waitForSelector('#consumers-box table');
    const rows = await page.$$eval('#consumers-box tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    const shown = new Map(rows.map((r) => [r[0], r[2]]));
    for (const [id, n] of s.consumers) assert.equal(shown.get(id), String(n), `${id}: ${rows.join(' | ')}`);
    // Requests without an X-Client-Id (orders, slow, boom, the XSS route recorded directly) are `unknown`.
    assert.ok(shown.has('unknown'), 'unknown listed');
    await page.click(`#consumers-box a[href="#/consumers/${encodeURIComponent(XSS_CONSUMER)}"]`);
    await page.waitForSelector('#consumer-detail table');
    const detail = (await page.textContent('#consumer-detail')) ?? '';
    assert.match(detail, /GET \/items\/\{id\}/);
    assert.ok(detail.includes(XSS_CONSUMER), 'the id is shown as text');
    await shot(page, 'consumers');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined);
    assert.deepEqual(b.dialogs, []);
    assert.deepEqual(b.problems, []);
  });

  test('phone-sized viewport: no horizontal scroll of the page itself', async () => {
    const { page } = b;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto('about:blank');
    await page.goto(`${s.base}${UI}#/overview`);
    await page.waitForSelector('#summary-cards .card');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
    await shot(page, 'overview-phone');
    assert.deepEqual(b.problems, []);
  });

  test('inventory view: never called, deprecated but called, undocumented candidates as text', async () => {
    const { page } = b;
    // Junk no route covers: 30 ids under one template.
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => fetch(`${s.base}/items/${i}/junk`).then((r) => r.arrayBuffer())),
    );
    await page.goto('about:blank');
    await page.goto(`${s.base}${UI}#/inventory`);
    await page.waitForSelector('#inventory-table tbody tr td');
    const rows = await page.$$eval('#inventory-table tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    const row = (name: string) => rows.find((r) => r[1] === name);
    assert.equal(row('GET /boom')?.[0], 'deprecated but called', JSON.stringify(rows));
    assert.equal(row('DELETE /items/{id}')?.[0], 'never called');
    assert.equal(row('DELETE /items/{id}')?.[3], '0');
    assert.equal(row('GET /items/{id}')?.[0], 'used');
    assert.equal(row('GET /items/{id}')?.[3], String(s.sent.get('GET /items/:id')));
    assert.deepEqual(
      rows.map((r) => r[1]).sort(),
      ['DELETE /items/{id}', 'GET /boom', 'GET /items/{id}', 'GET /metrics', 'GET /slow/{ms}', 'POST /orders'],
      'the routes declared (the Prometheus path is a route of the app too)',
    );
    const candidates = await page.$$eval('#inventory-undocumented tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    assert.ok(
      candidates.some((c) => c[0] === 'GET' && c[1] === '/items/{id}/junk' && c[2] === '30'),
      JSON.stringify(candidates),
    );
    // The XSS endpoint (recorded without a declaration) is a candidate, shown as text.
    assert.ok(candidates.some((c) => c[1] === XSS_ROUTE));
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await page.selectOption('#inventory-status', 'never_called');
    await page.waitForFunction(() => document.querySelectorAll('#inventory-table tbody tr').length === 2);
    const never = await page.$$eval('#inventory-table tbody tr td:nth-child(2)', (tds) =>
      tds.map((td) => td.textContent),
    );
    assert.deepEqual(never.sort(), ['DELETE /items/{id}', 'GET /metrics']);
    assert.match((await page.textContent('#inventory-totals')) ?? '', /never called2/);
    await shot(page, 'inventory');
    assert.deepEqual(b.problems, []);
  });

  test('sign out: back to the login page, and the API refuses the old session', async () => {
    const { page, context } = b;
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.click('text=Sign out');
    await page.waitForSelector('#token');
    assert.deepEqual(await context.cookies(s.base + '/api/v2/metrics/summary'), []);
    assert.deepEqual(b.problems, []);
  });
});
