/**
 * Escaping of hostile text in every output: routes, exception classes and messages holding quotes,
 * backslashes, control characters, U+2028/2029, lone surrogates, `</script>` and CSV formula payloads
 * (`=cmd|' /C calc'!A0`). JSON answers parse and give back exactly what was recorded; the CSV parses
 * and guards formula cells (the guard itself is test/api-csv.test.ts's); the Prometheus exposition
 * parses and its route labels unescape to the recorded routes (exposition format: `\\`, `\"`, `\n`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMeter, ErrorKind } from '../../src/index.js';
import type { Meter } from '../../src/index.js';
import { get, serveApi } from '../helpers/api.js';
import type { Served } from '../helpers/api.js';
import { parseExposition } from '../helpers/prometheus.js';
import { parseCsv } from '../helpers/csv.js';

const HOSTILE = [
  '/q"uo"te',
  '/back\\slash\\',
  '/ctl\u0001\u001f\u007f',
  '/new\nline\n',
  '/tab\there',
  '/ls\u2028ps\u2029',
  '/</script><script>alert(1)</script>',
  "=cmd|' /C calc'!A0",
  '@SUM(1+1)*cmd',
  '/emoji/\u{1f4a9}',
  '/nul\u0000byte',
];
const LONE = '/lone\ud800surrogate';
const MESSAGE = 'bad "q" \\ </script> \u2028 =cmd|\' /C calc\'!A0 \ud800 \u0007';

describe('hostile text round-trips through JSON, CSV and the Prometheus exposition', () => {
  let meter: Meter;
  let served: Served;
  before(async () => {
    meter = createMeter({ iniPath: false, env: {}, metricsErrorMessages: 'full' });
    for (const route of [...HOSTILE, LONE]) {
      const ep = meter.endpoint('GET', route)!;
      meter.record(ep, 200, 3, -1, 10, ErrorKind.None);
      meter.record(ep, 500, 4, -1, 10, ErrorKind.Exception, 'Weird"Class\\</script>', MESSAGE);
    }
    served = await serveApi({ meter, cacheSeconds: 0, openPrometheus: true });
  });
  after(() => served.close());

  test('/endpoints (JSON): every route exactly as recorded, lone surrogate included', async () => {
    const res = await get<{ endpoints: { method: string; route: string; count: number }[] }>(
      `${served.base}/api/v2/metrics/endpoints?window=all&limit=1000`,
    );
    assert.equal(res.status, 200);
    const routes = new Map(res.json.endpoints.map((e) => [e.route, e.count]));
    for (const route of [...HOSTILE, LONE]) assert.equal(routes.get(route), 2, JSON.stringify(route));
  });

  test('/endpoints/{endpoint}: exception class and message parse back (message cleaned, not mangled)', async () => {
    for (const route of HOSTILE) {
      const res = await get<{ route: string; exceptions: { class: string; last_message: string }[] }>(
        `${served.base}/api/v2/metrics/endpoints/${encodeURIComponent(route)}?window=all`,
      );
      assert.equal(res.status, 200, JSON.stringify(route));
      assert.equal(res.json.exceptions[0].class, 'Weird"Class\\</script>');
      // `full`: control characters and the lone surrogate become '?', the rest is kept as thrown.
      assert.equal(res.json.exceptions[0].last_message, 'bad "q" \\ </script> =cmd|\' /C calc\'!A0 ? ?');
    }
  });

  test('/endpoints?format=csv: parses, one row per route, formula cells guarded', async () => {
    const res = await get(`${served.base}/api/v2/metrics/endpoints?window=all&format=csv&limit=1000`);
    assert.equal(res.status, 200);
    const rows = parseCsv(res.text);
    const route = rows[0].indexOf('route');
    const cells = new Set(rows.slice(1).map((r) => r[route]));
    assert.equal(rows.length - 1, HOSTILE.length + 1);
    assert.ok(cells.has("'=cmd|' /C calc'!A0"), 'formula guarded');
    assert.ok(cells.has("'@SUM(1+1)*cmd"), 'formula guarded');
    for (const r of [
      '/q"uo"te',
      '/back\\slash\\',
      '/new\nline\n',
      '/ls\u2028ps\u2029',
      '/</script><script>alert(1)</script>',
    ]) {
      assert.ok(cells.has(r), JSON.stringify(r));
    }
  });

  for (const [accept, format] of [
    ['text/plain', 'text'],
    ['application/openmetrics-text', 'openmetrics'],
  ] as const) {
    test(`/metrics (${format}): parses, route labels unescape to the recorded routes`, async () => {
      const res = await get(`${served.base}/metrics`, { accept });
      assert.equal(res.status, 200);
      // U+2028/2029 are legal raw in a label value; the helper's parser (JS regexes, where `.` stops at
      // them) needs them swapped for markers first.
      assert.ok(res.text.includes('/ls\u2028ps\u2029'));
      const families = parseExposition(res.text.replaceAll('\u2028', '<LS>').replaceAll('\u2029', '<PS>'), format);
      const routes = new Set<string>();
      for (const f of families.values())
        for (const s of f.samples) if (s.labels.route !== undefined) routes.add(s.labels.route);
      for (const route of HOSTILE) {
        const marked = route.replaceAll('\u2028', '<LS>').replaceAll('\u2029', '<PS>');
        assert.ok(routes.has(marked), JSON.stringify(route));
      }
      // Not valid UTF-16: written as UTF-8 the lone surrogate becomes U+FFFD, the line still parses.
      assert.ok(routes.has('/lone\ufffdsurrogate'));
      // No raw line break inside a sample: every line is a comment, a sample, or empty.
      for (const line of res.text.split('\n'))
        assert.ok(line === '' || line.startsWith('#') || /^[a-zA-Z_:]/.test(line), JSON.stringify(line.slice(0, 80)));
    });
  }
});
