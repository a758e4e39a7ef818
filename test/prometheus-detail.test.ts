/**
 * Detailed mode (`metrics_detailed`) in the Prometheus exposition: the auth, rate-limit and database
 * families, and trace exemplars on the latency buckets in OpenMetrics (never in the 0.0.4 text format).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { DURATION_BOUNDS_SECONDS, renderPrometheus } from '../src/exporters/prometheus.js';
import { detailTraffic, plainTraffic, send, T0, trace } from './helpers/detail-traffic.js';
import { parseExposition } from './helpers/prometheus.js';
import type { Family } from './helpers/prometheus.js';

const DETAIL_FAMILIES = [
  'apimeter_auth_attempts_total',
  'apimeter_rate_limited_total',
  'apimeter_rate_limit_limit',
  'apimeter_rate_limit_remaining',
  'apimeter_db_queries_total',
  'apimeter_db_query_duration_seconds_total',
];

/** Samples of a family as `labels → value`, labels written `k=v` in exposition order. */
function values(families: Map<string, Family>, name: string): Record<string, number> {
  const f = families.get(name);
  assert.ok(f, `no family ${name}`);
  return Object.fromEntries(
    f.samples.map((s) => [
      Object.entries(s.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      s.value,
    ]),
  );
}

describe('Prometheus exposition: detailed mode', () => {
  test('auth attempts by kind and outcome, rate limits, database queries: exact values', () => {
    const { meter } = detailTraffic();
    const families = parseExposition(renderPrometheus(meter), 'text');
    const get = 'method=GET,route=/orders/{id}';
    const post = 'method=POST,route=/orders/{id}';
    assert.deepEqual(values(families, 'apimeter_auth_attempts_total'), {
      [`${get},auth_type=bearer,success=false`]: 2,
      [`${get},auth_type=bearer,success=true`]: 6,
      [`${get},auth_type=api_key,success=true`]: 1,
      [`${post},auth_type=basic,success=true`]: 3,
      [`${post},auth_type=session,success=false`]: 1,
    });
    assert.deepEqual(values(families, 'apimeter_rate_limited_total'), { [get]: 1, [post]: 1 });
    assert.deepEqual(values(families, 'apimeter_rate_limit_limit'), { [get]: 100, [post]: 50 });
    assert.deepEqual(values(families, 'apimeter_rate_limit_remaining'), { [get]: 7, [post]: 0 });
    assert.deepEqual(values(families, 'apimeter_db_queries_total'), { [get]: 9, [post]: 3 });
    assert.deepEqual(values(families, 'apimeter_db_query_duration_seconds_total'), { [get]: 0.024, [post]: 0.003 });
    assert.equal(families.get('apimeter_auth_attempts_total')!.type, 'counter');
    assert.equal(families.get('apimeter_rate_limit_remaining')!.type, 'gauge');

    const om = parseExposition(renderPrometheus(meter, { format: 'openmetrics' }), 'openmetrics');
    assert.equal(om.get('apimeter_db_query_duration_seconds')!.unit, 'seconds');
    assert.deepEqual(values(om, 'apimeter_auth_attempts'), values(families, 'apimeter_auth_attempts_total'));
    const legacy = parseExposition(renderPrometheus(meter, { naming: 'legacy', routeFormat: 'openapi' }), 'text');
    for (const name of DETAIL_FAMILIES) assert.deepEqual(values(legacy, name), values(families, name), name);
  });

  test('OpenMetrics: each latency bucket carries the latest exemplar whose value lies in it', () => {
    const { meter } = detailTraffic();
    // The legacy preset's per-status_code exemplars: test/prometheus-exemplars.test.ts (its histogram
    // needs a meter created with prometheusNaming 'legacy', which this one is not).
    for (const naming of ['otel'] as const) {
      const text = renderPrometheus(meter, { format: 'openmetrics', naming });
      const name = naming === 'otel' ? 'http_server_request_duration_seconds' : 'http_request_duration_seconds';
      const buckets = parseExposition(text, 'openmetrics')
        .get(name)!
        .samples.filter((s) => s.name === `${name}_bucket`);
      const exemplars = Object.fromEntries(
        buckets.filter((s) => s.exemplar !== undefined).map((s) => [`${s.labels.method} ${s.labels.le}`, s.exemplar]),
      );
      // GET: 3, 12, 40, 300 ms at T0 (traces 1–4), 20 ms at T0 + 0.5 s (trace 5); 12 and 20 ms share
      // (0.01, 0.025], where the later one wins. POST has no traced request.
      const ex = (n: number, seconds: number, at: number) => ({
        labels: { trace_id: trace(n)[0], span_id: trace(n)[1] },
        value: seconds,
        timestamp: at / 1000,
      });
      assert.deepEqual(exemplars, {
        'GET 0.005': ex(1, 0.003, T0),
        'GET 0.025': ex(5, 0.02, T0 + 500),
        'GET 0.05': ex(3, 0.04, T0),
        'GET 0.5': ex(4, 0.3, T0),
      });
      for (const s of buckets.filter((b) => b.exemplar !== undefined)) {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        const i = DURATION_BOUNDS_SECONDS.indexOf(le);
        const below = i <= 0 ? 0 : DURATION_BOUNDS_SECONDS[i - 1];
        assert.ok(s.exemplar!.value > below && s.exemplar!.value <= le, `exemplar in (${below}, ${le}]`);
      }
      assert.match(
        text,
        new RegExp(
          `^${name}_bucket\\{method="GET",route="/orders/\\{id\\}",le="0\\.025"\\} \\d+ # \\{trace_id="${trace(5)[0]}",span_id="${trace(5)[1]}"\\} 0\\.02 1740830400\\.5$`,
          'm',
        ),
      );
    }
    assert.doesNotMatch(renderPrometheus(meter), / # /, 'never in the 0.0.4 text format');
  });

  test('exemplars respect the 128-character cap of their labels: the span id goes first, then the exemplar', () => {
    const { meter } = detailTraffic();
    const ep = meter.endpoint('GET', '/long')!;
    send(meter, ep, { status: 200, ms: 3, trace: ['f'.repeat(110), 'e'.repeat(16)] });
    send(meter, ep, { status: 200, ms: 40, trace: ['f'.repeat(121), 'e'.repeat(16)] });
    const text = renderPrometheus(meter, { format: 'openmetrics' });
    const buckets = parseExposition(text, 'openmetrics')
      .get('http_server_request_duration_seconds')!
      .samples.filter((s) => s.labels.route === '/long' && s.exemplar !== undefined);
    assert.deepEqual(
      buckets.map((s) => [s.labels.le, s.exemplar!.labels]),
      [['0.005', { trace_id: 'f'.repeat(110) }]],
    );
  });

  test('promtool accepts the detailed exposition', (t) => {
    if (spawnSync('promtool', ['--version']).error) {
      t.skip('promtool is not installed (Debian package prometheus; .ci/run installs it)');
      return;
    }
    const r = spawnSync('promtool', ['check', 'metrics'], {
      input: renderPrometheus(detailTraffic().meter),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test('detailed mode off: none of these families, no exemplar', () => {
    const meter = plainTraffic();
    for (const format of ['text', 'openmetrics'] as const) {
      const text = renderPrometheus(meter, { format });
      const families = [...parseExposition(text, format).keys()];
      assert.deepEqual(
        families.filter((f) => !f.startsWith('http_')),
        format === 'text'
          ? ['apimeter_endpoints', 'apimeter_overflowed_endpoints_total', 'apimeter_overflowed_records_total']
          : ['apimeter_endpoints', 'apimeter_overflowed_endpoints', 'apimeter_overflowed_records'],
      );
      assert.doesNotMatch(text, / # |auth|rate_limit|db_quer/);
    }
  });
});
