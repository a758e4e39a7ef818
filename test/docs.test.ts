import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/errors.js';
import { CONFIG_KEYS } from '../src/core/config.js';
import { CATALOGUE, PROMETHEUS_PRESETS } from '../src/exporters/catalogue.js';
import type { CatalogueMetric } from '../src/exporters/catalogue.js';
import { CATALOGUE_TABLES, withCatalogueTables } from '../scripts/docs-catalogue.js';

const doc = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

test('every error code is documented in docs/errors.md', () => {
  const text = doc('errors.md');
  for (const code of Object.keys(ERROR_CODES)) assert.ok(text.includes('`' + code + '`'), `${code} missing`);
});

test('every configuration key is documented in docs/configuration.md', () => {
  const text = doc('configuration.md');
  for (const k of CONFIG_KEYS) assert.ok(text.includes(k.key), `${k.section}.${k.key} missing`);
});

test('the metric tables of docs/prometheus.md and docs/exporters.md are what `npm run docs:catalogue` writes', async () => {
  for (const name of Object.keys(CATALOGUE_TABLES)) {
    const text = doc(name);
    assert.equal(text, await withCatalogueTables(name, text), `docs/${name} differs: run npm run docs:catalogue`);
  }
});

test('every catalogue name is in the generated docs, and every metric name in those tables is in the catalogue', () => {
  const generated = Object.keys(CATALOGUE_TABLES)
    .map((name) => doc(name))
    .join('\n');
  const tables = [...generated.matchAll(/<!-- catalogue:([\w-]+):start -->([\s\S]*?)<!-- catalogue:\1:end -->/g)];
  assert.equal(tables.length, 7);
  const documented = new Set<string>();
  for (const [, , body] of tables) {
    for (const row of body.split('\n').filter((l) => l.startsWith('| `'))) {
      // The name column, and the other presets' columns of the preset table (`name{labels}`).
      const [first, ...rest] = row.split('|').slice(1, -1);
      for (const cell of [first, ...rest.filter((c) => /^\s*`\w+\{/.test(c))]) {
        const m = /^\s*`([^`{]+)(?:\{[^`]*\})?`\s*$/.exec(cell);
        if (m) documented.add(m[1]);
      }
    }
  }
  const expected = new Set<string>();
  for (const m of Object.values(CATALOGUE) as CatalogueMetric[]) {
    if (m.statsd) expected.add(`api.${m.statsd.suffix}`);
    if (m.otel) expected.add(m.otel.prefixed ? `<otel_prefix>.${m.otel.name}` : m.otel.name);
    if (m.prometheus) for (const preset of PROMETHEUS_PRESETS) expected.add(m.prometheus.names[preset]);
  }
  assert.deepEqual(
    [...expected].filter((n) => !documented.has(n)),
    [],
    'catalogue names missing from the docs',
  );
  assert.deepEqual(
    [...documented].filter((n) => !expected.has(n)),
    [],
    'documented names missing from the catalogue',
  );
});

test('every metric name docs/metrics.md writes is a catalogue name (defaults: `api`, otel_prefix `apimeter`)', () => {
  // Not metric names: a config key, an auth_type value, and the attributes every point has.
  const known = new Set<string>(['api_metrics_prefix', 'api_key', 'http.route', 'http.request.method']);
  known.add('http.response.status_code');
  for (const m of Object.values(CATALOGUE) as CatalogueMetric[]) {
    if (m.statsd) known.add(`api.${m.statsd.suffix}`);
    if (m.otel) {
      known.add(m.otel.prefixed ? `apimeter.${m.otel.name}` : m.otel.name);
      for (const a of m.otel.attributes) known.add(a);
    }
    if (m.prometheus) for (const preset of PROMETHEUS_PRESETS) known.add(m.prometheus.names[preset]);
  }
  const written = [...doc('metrics.md').matchAll(/`((?:api|apimeter|http)[._][a-z_.]*[a-z])(?:\{[^`]*\})?`/g)].map(
    (m) => m[1],
  );
  assert.ok(written.length >= 20, `only ${written.length} names found`);
  assert.deepEqual(
    written.filter((n) => !known.has(n)),
    [],
  );
});
