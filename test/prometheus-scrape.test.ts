import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorKind } from '../src/index.js';
import { startDemo } from '../demo/main.js';
import type { RunningDemo } from '../demo/main.js';
import { PROMETHEUS_SKIP, startPrometheus } from './helpers/prometheus-server.js';
import type { RunningPrometheus, VectorResult } from './helpers/prometheus-server.js';

const byRoute = (r: VectorResult[]) => new Map(r.map((v) => [v.metric.route ?? '', Number(v.value[1])]));

/**
 * A real Prometheus server scraping the demo's /metrics every second, queried over its HTTP API with
 * the PromQL an operator would write.
 */
describe('a real Prometheus server scrapes the demo', { skip: PROMETHEUS_SKIP }, () => {
  let demo: RunningDemo;
  let prom: RunningPrometheus;
  const query = (promql: string) => prom.query(promql);
  const until = async (promql: string, check: (m: Map<string, number>) => boolean, what: string) =>
    byRoute(await prom.until(promql, (r) => check(byRoute(r)), what));

  before(async () => {
    demo = await startDemo({
      port: 0,
      db: ':memory:',
      traffic: false,
      reportEvery: 0,
      latencyScale: 0,
      faultRate: 0,
      log: () => {},
      meter: { iniPath: false, env: {} },
    });
    prom = await startPrometheus({ demo: new URL(demo.url).host });
  });

  after(async () => {
    await prom?.stop();
    await demo?.close();
  });

  test('request counts by route match the traffic sent; histogram_quantile lands in the expected bucket', async (t) => {
    const api = `${demo.url}/api/v2`;
    const send = async (path: string, n: number) => {
      for (let i = 0; i < n; i++) await (await fetch(api + path)).arrayBuffer();
    };
    // Known durations on a synthetic endpoint: 30 ms lies in the (0.025, 0.05] bucket.
    const known = demo.meter.endpoint('GET', '/synthetic/known')!;
    const record = (n: number) => {
      for (let i = 0; i < n; i++) demo.meter.record(known, 200, 30, -1, -1, ErrorKind.None);
    };

    await send('/dags', 20);
    await send('/dags/no_such_dag', 5);
    record(10);
    const total = 'sum by (route) (http_server_requests_total{job="demo"})';
    await until(
      total,
      (m) => m.get('/api/v2/dags') === 20 && m.get('/api/v2/dags/{dag_id}') === 5 && m.get('/synthetic/known') === 10,
      'first scrape',
    );

    // More traffic after Prometheus has the first values, so rate() sees an increase.
    await send('/dags', 30);
    record(90);
    const counts = await until(
      total,
      (m) => m.get('/api/v2/dags') === 50 && m.get('/synthetic/known') === 100,
      'second scrape',
    );
    assert.equal(counts.get('/api/v2/dags/{dag_id}'), 5);
    assert.ok(
      ![...counts.keys()].some((r) => r.startsWith('/api/v2/metrics') || r === '/metrics'),
      'scrapes are not measured',
    );

    const p50 = await until(
      'histogram_quantile(0.5, sum by (le, route) (rate(http_server_request_duration_seconds_bucket{job="demo"}[1m])))',
      (m) => Number.isFinite(m.get('/synthetic/known')),
      'histogram_quantile',
    );
    const q = p50.get('/synthetic/known')!;
    assert.ok(q > 0.025 && q <= 0.05, `p50 ${q} s outside the (0.025, 0.05] bucket that holds 30 ms`);
    t.diagnostic(`${total} = ${JSON.stringify(Object.fromEntries(counts))}`);
    t.diagnostic(`histogram_quantile(0.5, …rate(…[1m])) for /synthetic/known = ${q} s`);
    const up = await query('up{job="demo"}');
    assert.equal(up[0].value[1], '1');
    const errors = await query('sum by (route, error_type) (http_server_errors_total{job="demo"})');
    assert.deepEqual(
      errors.map((r) => [r.metric.route, r.metric.error_type, r.value[1]]),
      [['/api/v2/dags/{dag_id}', 'client_error', '5']],
    );
  });
});
