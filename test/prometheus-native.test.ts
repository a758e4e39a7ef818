/**
 * Native histograms end to end: a real Prometheus 2.42 with `--enable-feature=native-histograms`
 * negotiates the protobuf exposition at /metrics and stores the latency sketch as a native histogram;
 * `histogram_quantile` over it is compared with the exact quantiles of the durations recorded. A second
 * Prometheus without the feature scrapes the same target (OpenMetrics text, classic buckets), for the
 * comparison the report quotes.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createMetricsApi, createNodeHandler } from '../src/api/index.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { datasets, exactQuantile, rng, lognormal } from './helpers/datasets.js';
import { PROMETHEUS_SKIP, startPrometheus } from './helpers/prometheus-server.js';
import type { RunningPrometheus, VectorResult } from './helpers/prometheus-server.js';

/** Latencies in ms per synthetic route: the second batch is what rate() over the window sees. */
function traffic(): Record<string, { first: number[]; second: number[] }> {
  const d = datasets();
  const r = rng(7);
  const warmup = (n: number) => Array.from({ length: n }, () => lognormal(r, 3, 0.2));
  return {
    '/lognormal': { first: warmup(500), second: d.lognormal },
    '/bimodal': { first: warmup(500), second: d.bimodal },
    '/heavy-tail': { first: warmup(500), second: d.heavyTail },
    '/full-range': { first: warmup(500), second: d.fullRange },
  };
}

const QUANTILES = [0.5, 0.9, 0.95, 0.99];
const NATIVE_TOLERANCE = 0.01;

const byRoute = (r: VectorResult[]) => new Map(r.map((v) => [v.metric.route ?? '', Number(v.value[1])]));

describe('native histograms with a real Prometheus 2.42', { skip: PROMETHEUS_SKIP }, () => {
  let meter: Meter;
  let server: http.Server;
  let native: RunningPrometheus;
  let classic: RunningPrometheus;
  const data = traffic();
  const routes = Object.keys(data);

  before(async () => {
    meter = createMeter({ iniPath: false, env: {} });
    const api = createMetricsApi({ meter, openPrometheus: true });
    server = http.createServer(createNodeHandler(api));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    [native, classic] = await Promise.all([
      startPrometheus({ native: host }, { flags: ['--enable-feature=native-histograms'] }),
      startPrometheus({ classic: host }),
    ]);
  });

  after(async () => {
    await Promise.all([native?.stop(), classic?.stop()]);
    await new Promise((resolve) => server?.close(resolve));
  });

  const record = (batch: 'first' | 'second') => {
    for (const route of routes) {
      const ep = meter.endpoint('GET', route)!;
      for (const ms of data[route][batch]) meter.record(ep, 200, ms, -1, -1, ErrorKind.None);
    }
  };
  const scraped = async (n: (route: string) => number) => {
    const want = (m: Map<string, number>) => routes.every((r) => m.get(r) === n(r));
    await Promise.all([
      native.until(
        'histogram_count(http_server_request_duration_seconds{job="native"})',
        (r) => want(byRoute(r)),
        'native scrape',
      ),
      classic.until(
        'http_server_request_duration_seconds_count{job="classic"}',
        (r) => want(byRoute(r)),
        'classic scrape',
      ),
    ]);
  };

  test('histogram_quantile over the native histogram is within 1 % of the exact quantiles', async (t) => {
    record('first');
    await scraped((r) => data[r].first.length);
    record('second');
    await scraped((r) => data[r].first.length + data[r].second.length);

    // Prometheus stored a native histogram: the classic series do not exist in the native server.
    assert.deepEqual(await native.query('http_server_request_duration_seconds_bucket{job="native"}'), []);
    const worst = { native: 0, classic: 0 };
    for (const q of QUANTILES) {
      const n = byRoute(
        await native.query(`histogram_quantile(${q}, rate(http_server_request_duration_seconds{job="native"}[1m]))`),
      );
      const c = byRoute(
        await classic.query(
          `histogram_quantile(${q}, sum by (le, route) (rate(http_server_request_duration_seconds_bucket{job="classic"}[1m])))`,
        ),
      );
      for (const route of routes) {
        const sorted = [...data[route].second].sort((a, b) => a - b);
        const exact = exactQuantile(sorted, q) / 1000;
        const nativeErr = Math.abs(n.get(route)! / exact - 1);
        const classicErr = Math.abs(c.get(route)! / exact - 1);
        worst.native = Math.max(worst.native, nativeErr);
        worst.classic = Math.max(worst.classic, Number.isFinite(classicErr) ? classicErr : Infinity);
        t.diagnostic(
          `q=${q} ${route}: exact ${exact.toPrecision(6)} s, native ${n.get(route)!.toPrecision(6)} s ` +
            `(${(nativeErr * 100).toFixed(3)} %), classic ${c.get(route)!.toPrecision(6)} s (${(classicErr * 100).toFixed(1)} %)`,
        );
        assert.ok(
          nativeErr <= NATIVE_TOLERANCE,
          `q=${q} ${route}: native ${n.get(route)} s vs exact ${exact} s (${(nativeErr * 100).toFixed(3)} %)`,
        );
      }
    }
    t.diagnostic(
      `worst error: native ${(worst.native * 100).toFixed(3)} %, classic ${(worst.classic * 100).toFixed(1)} %`,
    );
    assert.ok(!/error|warn/i.test(native.log()), `native Prometheus logged:\n${native.log()}`);
  });
});
