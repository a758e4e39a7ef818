/**
 * The generated Datadog dashboard, monitors and SLOs read only what apimeter really sends: the
 * DogStatsD datagrams of a detailed-mode app (distribution timers) are captured on a loopback UDP
 * socket, and every metric name, tag key and tag filter of every query must appear in them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseRules, ruleDefaultsOf } from '../src/alerts/rules.js';
import { loadConfig } from '../src/core/config.js';
import { createStatsdExporter } from '../src/exporters/statsd.js';
import { datadogArtifacts } from '../src/artifacts/datadog.js';
import { startTestApp } from './helpers/artifacts.js';
import type { TestApp } from './helpers/artifacts.js';
import { eventually, startDogStatsdReceiver } from './helpers/exporters.js';
import type { DogLine, DogStatsdReceiver } from './helpers/exporters.js';

const RULES = `
rules:
  - name: ItemsSlow
    endpoints: "GET /items/*"
    signal: latency_p99
    window: 5m
    above: 300
  - name: Busy
    signal: inflight
    window: 1m
    above: 100
slos:
  - name: items-availability
    endpoints: "/items*"
    sli: availability
    objective: 99.5
  - name: all-latency
    sli: latency
    objective: 99
    threshold_ms: 250
`;

let app: TestApp;
let receiver: DogStatsdReceiver;

before(async () => {
  receiver = await startDogStatsdReceiver();
  app = await startTestApp({
    metricsDetailed: true,
    statsdDatadogEnabled: true,
    statsdTimerMode: 'distribution',
    statsdDatadogTags: ['env:test'],
  });
  for (let i = 0; i < 5; i++) await app.round(2);
  const statsd = createStatsdExporter(app.meter, {
    host: '127.0.0.1',
    port: receiver.port,
    flushIntervalMs: 0,
    onStateChange: () => {},
  });
  const report = await statsd.flush();
  assert.equal(report.error, null);
  await eventually(() => receiver.lines.length >= report.lines, 'every line');
  await statsd.close();
});

after(async () => {
  await app?.close();
  await receiver?.close();
});

/** Every query string in the generated JSON (`q`, `query`, SLO numerator/denominator). */
function queries(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) queries(v, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string' && ['q', 'query', 'numerator', 'denominator'].includes(k)) out.push(v);
      else queries(v, out);
    }
  }
  return out;
}

/** `agg:name{filter} by {keys}` terms of a Datadog query. */
const TERM = /\b(sum|avg|max|min|p50|p75|p90|p95|p99):([A-Za-z][A-Za-z0-9_.]*)\{([^}]*)\}(?: by \{([^}]*)\})?/g;

const globMatch = (glob: string, value: string) =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(value);

test('every metric, tag and filter of the Datadog dashboard, monitors and SLOs is in the datagrams sent', () => {
  assert.deepEqual(receiver.invalid, []);
  const config = app.meter.config;
  const set = parseRules(RULES, ruleDefaultsOf(loadConfig({ iniPath: false, env: {} })), 'rules');
  const { files, skipped } = datadogArtifacts(set, {
    prefix: config.statsdPrefix,
    apiPrefix: config.apiMetricsPrefix,
    service: 'shop',
  });
  const byName = new Map<string, DogLine[]>();
  for (const l of receiver.lines) byName.set(l.name, [...(byName.get(l.name) ?? []), l]);
  const dashboard = JSON.parse(files['datadog-dashboard.json']) as {
    template_variables: { prefix: string }[];
  };
  const monitors = JSON.parse(files['datadog-monitors.json']) as { name: string; query: string }[];
  const slos = JSON.parse(files['datadog-slos.json']) as unknown[];
  const all = [
    ...queries(dashboard).map((q) => ['dashboard', q]),
    ...monitors.map((m) => ['monitor', m.query]),
    ...queries(slos).map((q) => ['slo', q]),
  ];
  const names = new Set<string>();
  let terms = 0;
  for (const [where, q] of all) {
    const found = [...q.matchAll(TERM)];
    assert.ok(found.length > 0, `${where}: no metric term in ${q}`);
    for (const [, agg, name, filter, by] of found) {
      terms++;
      names.add(name);
      const lines = byName.get(name);
      assert.ok(lines !== undefined, `${where}: ${name} was never sent (${q})`);
      if (agg.startsWith('p'))
        assert.ok(
          lines.some((l) => l.type === 'd'),
          `${name}: percentiles need a distribution`,
        );
      const keys = (by ?? '').split(',').filter((k) => k !== '');
      for (const k of keys)
        assert.ok(
          lines.some((l) => l.tags.has(k)),
          `${where}: ${name} has no tag ${k} (${q})`,
        );
      for (const part of filter.split(/,| AND | OR /).map((s) => s.replace(/[()]/g, '').trim())) {
        if (part === '*' || part === '' || part.startsWith('$')) continue;
        const colon = part.indexOf(':');
        const [k, v] = [part.slice(0, colon), part.slice(colon + 1)];
        assert.ok(
          lines.some((l) => l.tags.has(k) && globMatch(v, l.tags.get(k)!)),
          `${where}: no ${name} line matches ${part} (${q})`,
        );
      }
    }
  }
  for (const v of dashboard.template_variables) {
    assert.ok(
      [...names].every((n) => byName.get(n)!.some((l) => l.tags.has(v.prefix))),
      `template variable ${v.prefix} is a tag of every metric the dashboard reads`,
    );
  }
  // Detailed-mode metrics are among them (the app runs detailed), and the rules became monitors.
  assert.ok([...names].some((n) => n.endsWith('auth.count')) && [...names].some((n) => n.endsWith('db.query.count')));
  assert.ok(monitors.some((m) => m.name === '[apimeter] ItemsSlow' && /^percentile\(last_5m\):p99:/.test(m.query)));
  assert.ok(monitors.some((m) => m.name === '[apimeter] HighErrorRate'));
  assert.equal(monitors.filter((m) => m.name.startsWith('[apimeter] SLO items-availability')).length, 4);
  assert.equal(slos.length, 1, 'the availability SLO as a Datadog SLO; the latency one is listed as skipped');
  assert.ok(skipped.some((s) => s.includes('all-latency')));
  assert.ok(terms > 30, `${terms} terms checked`);
});
