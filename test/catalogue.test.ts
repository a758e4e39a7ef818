/**
 * The exporters write what the metric catalogue says: every Prometheus family, OpenTelemetry metric and
 * StatsD name of a detailed meter's output is the catalogue's, with its type, HELP, unit and description.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CATALOGUE,
  metricsOf,
  otelName,
  otelOf,
  PROMETHEUS_PRESETS,
  prometheusOf,
  statsdOf,
} from '../src/exporters/catalogue.js';
import { MemoryTransport } from '../src/exporters/memory.js';
import { createOtelProducer } from '../src/exporters/otel-producer.js';
import { renderPrometheus } from '../src/exporters/prometheus.js';
import { createStatsdExporter } from '../src/exporters/statsd.js';
import { detailTraffic } from './helpers/detail-traffic.js';

test('Prometheus families, in both naming presets, are the catalogue entries in catalogue order', () => {
  const { meter } = detailTraffic();
  for (const preset of PROMETHEUS_PRESETS) {
    const text = renderPrometheus(meter, { naming: preset });
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
    const helps = [...text.matchAll(/^# HELP (\S+) (.*)$/gm)].map((m) => [m[1], m[2]]);
    const keys = metricsOf('prometheus');
    assert.deepEqual(
      families,
      keys.map((k) => [prometheusOf(k).names[preset], prometheusOf(k).type]),
    );
    assert.deepEqual(
      helps,
      keys.map((k) => [prometheusOf(k).names[preset], prometheusOf(k).help[preset]]),
    );
  }
  assert.match(prometheusOf('duration').help.otel, /0\.54 % latency sketch/);
});

test('OpenTelemetry metrics: name, unit and description from the catalogue', () => {
  const { meter } = detailTraffic();
  for (const prefix of ['apimeter', '', 'x.y']) {
    const metrics = createOtelProducer(meter, { prefix }).produce().scopeMetrics[0].metrics;
    const got = metrics.map((m) => [m.descriptor.name, m.descriptor.unit, m.descriptor.description]).sort();
    const want = metricsOf('otel')
      .map((k) => [otelName(k, prefix), otelOf(k).unit, otelOf(k).description])
      .sort();
    assert.deepEqual(got, want);
  }
});

test('StatsD and DogStatsD names are the catalogue suffixes after the prefixes', async () => {
  const { meter } = detailTraffic();
  const ep = meter.endpoint('PUT', '/sizes')!;
  meter.record(ep, 200, 5, 100, 2000, 0);
  for (const dialect of ['statsd', 'datadog'] as const) {
    const transport = new MemoryTransport();
    const exporter = createStatsdExporter(meter, { transport, flushIntervalMs: 0, dialect, onStateChange: () => {} });
    await exporter.flush();
    const names = new Set(transport.lines().map((l) => /^([^:,|]+)/.exec(l)![1]));
    for (const k of metricsOf('statsd')) {
      const full = `apimeter.api.${statsdOf(k).suffix}`;
      assert.ok(
        [...names].some((n) => n === full || n.startsWith(`${full}.`)),
        `${dialect}: ${full} not sent`,
      );
    }
    const all = metricsOf('statsd').map((k) => `apimeter.api.${statsdOf(k).suffix}`);
    for (const n of names) {
      assert.ok(
        all.some((full) => n === full || (dialect === 'statsd' && n.startsWith(`${full}.`))),
        `${dialect}: ${n} is not a catalogue name`,
      );
    }
    await exporter.close();
  }
  assert.ok(Object.keys(CATALOGUE).length >= 15);
});
