/**
 * The web page: its weight (every asset, gzip) and the first render of the overview and of the endpoints
 * table with 1,000 endpoints, in headless Chromium against a real loopback server. Run with
 * `tsx bench/ui.ts [--runs=N]`; the last line is the JSON result (for bench/run.ts).
 */
import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { CHROMIUM, openBrowser } from '../test/helpers/browser.js';
import { startUiServer, TOKEN } from '../test/helpers/ui-server.js';
import { loadAssets } from '../src/ui/assets.js';
import { median } from './lib.js';

// Code run inside the page by page.waitForFunction(): the browser's globals, untyped here.
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, quick: { type: 'boolean' } } });
const runs = values.quick ? 2 : Number(values.runs);
const UI = '/api/v2/metrics/ui';
// Every file the page loads, as the API serves them.
const ASSETS = [...loadAssets().keys()];

const server = await startUiServer(1000);
const login = await fetch(`${server.base}${UI}/login`, {
  method: 'POST',
  headers: { origin: server.base, 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
  body: '{}',
});
const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
let raw = 0;
let gzip = 0;
for (const path of [UI, ...ASSETS.map((a) => `${UI}/assets/${a}`)]) {
  const body = Buffer.from(await (await fetch(server.base + path, { headers: { cookie } })).arrayBuffer());
  raw += body.length;
  gzip += gzipSync(body, { level: 9 }).length;
}
const result: Record<string, number | string | null> = {
  files: ASSETS.length + 1,
  raw_kb: +(raw / 1000).toFixed(1),
  gzip_kb: +(gzip / 1000).toFixed(1),
  endpoints: server.meter.registry.size,
  overview_ms: null,
  table_ms: null,
};
if (existsSync(CHROMIUM)) {
  const b = await openBrowser();
  const { page } = b;
  await page.goto(server.base + UI);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForSelector('#summary-cards .card');
  const overview: number[] = [];
  const table: number[] = [];
  for (let i = 0; i < runs; i++) {
    await page.goto('about:blank');
    let t = performance.now();
    await page.goto(`${server.base}${UI}#/overview`);
    await page.waitForFunction(
      () => document.querySelectorAll('.grid2 canvas').length >= 2 && document.querySelectorAll('.grid3 a').length > 0,
    );
    overview.push(performance.now() - t);
    await page.goto('about:blank');
    t = performance.now();
    await page.goto(`${server.base}${UI}#/endpoints`);
    await page.waitForFunction(() => /of \d{4}/.test(document.getElementById('endpoints-info')?.textContent ?? ''));
    table.push(performance.now() - t);
  }
  result.overview_ms = +median(overview).toFixed(1);
  result.table_ms = +median(table).toFixed(1);
  // Polling cost: this process's CPU (the server, plus the idle browser driver: an upper bound) over
  // the same time with the overview open and refreshing every 5 s, and with the page closed.
  const pollSeconds = values.quick ? 10 : 30;
  const cpuOver = async (url: string) => {
    await page.goto(url);
    const c0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, pollSeconds * 1000));
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  };
  const polling = await cpuOver(`${server.base}${UI}#/overview`);
  const idle = await cpuOver('about:blank');
  result.polling_cpu_percent = +((Math.max(0, polling - idle) / pollSeconds) * 100).toFixed(2);
  if (b.problems.length > 0) result.problems = b.problems.join('; ');
  await b.close();
} else result.skipped = `${CHROMIUM} not installed`;
await server.close();

console.log(`web page: ${result.files} files, ${result.raw_kb} kB, gzip ${result.gzip_kb} kB (budget 150 kB)`);
console.log(
  `first render with ${result.endpoints} endpoints (median of ${runs}, headless Chromium): overview ${result.overview_ms} ms, endpoints table (first page) ${result.table_ms} ms`,
);
console.log(
  `the overview refreshing every 5 s costs the server ${result.polling_cpu_percent ?? '?'} % of one CPU (budget < 1 %; ` +
    'measured with the browser driver in the same process: an upper bound)',
);
console.log(JSON.stringify(result));
