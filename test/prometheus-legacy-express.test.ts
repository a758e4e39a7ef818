/**
 * The `legacy` preset's `express-prom-bundle` flavour against the real express-prom-bundle 8 (prom-client
 * 15): one Express 5 app measured by both, the same requests, the two `http_request_duration_seconds`
 * families compared series by series (labels and their order, `_count`, `+Inf`, `le` bounds) and the
 * `up` gauge; promtool clean.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import express from 'express';
import promBundle from 'express-prom-bundle';
import { Registry } from 'prom-client';
import { apimeter } from '../src/adapters/express.js';
import { createMeter } from '../src/core/meter.js';
import { EXPRESS_PROM_BUNDLE_BUCKETS, preparePrometheus, renderPrometheus } from '../src/exporters/prometheus.js';
import type { LegacyOptions, PrometheusOptions } from '../src/exporters/prometheus.js';
import { parseExposition, seriesValues } from './helpers/prometheus.js';
import type { Family } from './helpers/prometheus.js';
import { PROMTOOL_SKIP, promtoolCheckMetrics } from './helpers/prometheus-server.js';

const name = 'http_request_duration_seconds';

/** `_count` (or the `+Inf` bucket) per series, keyed by its labels in their written order (`le` left out). */
const series = (f: Family, sample: '_count' | '_bucket') => seriesValues(f, name, sample);
/** The `le` lists of the family's series (one entry when every series has the same bounds). */
const leLists = (f: Family) => {
  const byKey = new Map<string, string[]>();
  for (const s of f.samples) {
    if (s.name !== `${name}_bucket`) continue;
    const key = Object.entries(s.labels)
      .filter(([k]) => k !== 'le')
      .join();
    byKey.set(key, [...(byKey.get(key) ?? []), s.labels.le]);
  }
  return [...new Set([...byKey.values()].map((l) => l.join(' ')))];
};

async function bothOn(bundle: Parameters<typeof promBundle>[0], legacy: LegacyOptions, unmatched: boolean) {
  const meter = createMeter({ iniPath: false, env: {} });
  const options: PrometheusOptions = { naming: 'legacy', legacy: { flavor: 'express-prom-bundle', ...legacy } };
  preparePrometheus(meter, options);
  const registry = new Registry();
  const app = express();
  app.use(apimeter({ meter }));
  app.use(promBundle({ ...bundle, promRegistry: registry, autoregister: false }));
  app.get('/items/:id', (req, res) => {
    const id = req.params.id;
    res.status(id === '404' ? 404 : id === '500' ? 500 : id === '503' ? 503 : 200).json({ id });
  });
  app.post('/items', (_req, res) => res.status(201).json({ created: true }));
  app.delete('/items/:id', (_req, res) => res.status(204).end());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const send = async (path: string, method = 'GET') => void (await (await fetch(base + path, { method })).text());
  try {
    for (const id of ['1', '2', '404', '3', '500', '404', '503', '4', '500', '500']) await send(`/items/${id}`);
    for (let i = 0; i < 3; i++) await send('/items', 'POST');
    await send('/items/9', 'DELETE');
    if (unmatched) for (const p of ['/nope', '/nope/42']) await send(p);
    // onFinished callbacks of the last response have run once its body arrived; one more turn for safety.
    await new Promise((resolve) => setImmediate(resolve));
    const theirsText = (await registry.metrics()).replace(/\n\n+/g, '\n');
    const text = renderPrometheus(meter, options);
    return { theirs: parseExposition(theirsText, 'text'), ours: parseExposition(text, 'text'), text };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('legacy preset, express-prom-bundle flavour, vs the real express-prom-bundle', () => {
  test('defaults: one series per status_code over every request (unmatched ones too), its buckets, up = 1', async () => {
    const { theirs, ours, text } = await bothOn({}, {}, true);
    const t = theirs.get(name)!;
    const o = ours.get(name)!;
    assert.equal(o.type, t.type);
    assert.deepEqual(series(o, '_count'), series(t, '_count'));
    assert.deepEqual(series(o, '_bucket'), series(t, '_bucket'));
    assert.deepEqual(series(t, '_count'), {
      'status_code=200': 4,
      'status_code=201': 3,
      'status_code=204': 1,
      'status_code=404': 4,
      'status_code=500': 3,
      'status_code=503': 1,
    });
    assert.deepEqual(leLists(o), leLists(t));
    assert.deepEqual(leLists(t), [[...EXPRESS_PROM_BUNDLE_BUCKETS.map(String), '+Inf'].join(' ')]);
    assert.deepEqual(
      ours.get('up')!.samples.map((s) => [s.name, s.labels, s.value]),
      theirs.get('up')!.samples.map((s) => [s.name, s.labels, s.value]),
    );
    assert.equal(ours.get('up')!.type, 'gauge');
    if (!PROMTOOL_SKIP) {
      const r = promtoolCheckMetrics(text);
      assert.equal(r.status, 0, r.output);
      assert.equal(r.output.trim(), '');
    }
  });

  test('includeMethod and includePath: status_code, method, path in that order; path with #val', async () => {
    const { theirs, ours } = await bothOn(
      { includeMethod: true, includePath: true, includeUp: false },
      { includeMethod: true, includePath: true, includeUp: false },
      false,
    );
    const t = theirs.get(name)!;
    const o = ours.get(name)!;
    assert.deepEqual(series(o, '_count'), series(t, '_count'));
    assert.deepEqual(series(o, '_bucket'), series(t, '_bucket'));
    assert.deepEqual(series(t, '_count'), {
      'status_code=200,method=GET,path=/items/#val': 4,
      'status_code=201,method=POST,path=/items': 3,
      'status_code=204,method=DELETE,path=/items/#val': 1,
      'status_code=404,method=GET,path=/items/#val': 2,
      'status_code=500,method=GET,path=/items/#val': 3,
      'status_code=503,method=GET,path=/items/#val': 1,
    });
    assert.deepEqual(leLists(o), leLists(t));
    assert.ok(!theirs.has('up') && !ours.has('up'));
  });

  test('only method: series per (status_code, method), merged over routes', async () => {
    const { theirs, ours } = await bothOn({ includeMethod: true }, { includeMethod: true }, true);
    assert.deepEqual(series(ours.get(name)!, '_count'), series(theirs.get(name)!, '_count'));
    assert.equal(series(ours.get(name)!, '_count')['status_code=404,method=GET'], 4);
  });
});
