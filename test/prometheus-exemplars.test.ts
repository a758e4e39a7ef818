/**
 * Exemplars as a real Prometheus 2.42 (`--enable-feature=exemplar-storage`) ingests them: per bucket
 * series an exemplar's timestamp must never go back, or Prometheus drops it and logs
 * "Error on ingesting out-of-order exemplars" on every scrape.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMetricsApi, createNodeHandler } from '../src/api/index.js';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import type { EndpointStats } from '../src/core/endpoint.js';
import { renderPrometheus } from '../src/exporters/prometheus.js';
import { send, trace } from './helpers/detail-traffic.js';
import { parseExposition } from './helpers/prometheus.js';
import { PROMETHEUS_SKIP, startPrometheus } from './helpers/prometheus-server.js';
import type { RunningPrometheus } from './helpers/prometheus-server.js';

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

/** le → exemplar trace ids of the latency buckets, as the OpenMetrics exposition writes them now. */
function bucketTraces(meter: Meter): Record<string, string> {
  const f = parseExposition(renderPrometheus(meter, { format: 'openmetrics' }), 'openmetrics').get(
    'http_server_request_duration_seconds',
  )!;
  return Object.fromEntries(
    f.samples.filter((s) => s.exemplar !== undefined).map((s) => [s.labels.le, s.exemplar!.labels.trace_id]),
  );
}

describe('OpenMetrics exemplars in order', () => {
  test("a bucket's exemplar never goes back in time when a newer request moves its range's exemplar elsewhere", () => {
    const clock = new ManualClock();
    const meter = createMeter({ metricsDetailed: true, iniPath: false, env: {}, traceSource: false, clock });
    const ep = meter.endpoint('GET', '/x')!;
    // 28 ms and 40 ms both lie in (0.025, 0.05]; 28 ms is the (16, 32] ms exemplar range, 40 ms the (32, 64] one.
    send(meter, ep, { status: 200, ms: 28, trace: trace(1) });
    assert.equal(bucketTraces(meter)['0.05'], trace(1)[0]);
    clock.advance(100);
    send(meter, ep, { status: 200, ms: 40, trace: trace(2) });
    assert.equal(bucketTraces(meter)['0.05'], trace(2)[0]);
    clock.advance(100);
    // 60 ms replaces 40 ms as the (32, 64] range's exemplar and goes to (0.05, 0.075]: the 0.05 bucket
    // must keep trace 2 (written before), not fall back to trace 1 (older than what a scraper has seen).
    send(meter, ep, { status: 200, ms: 60, trace: trace(3) });
    const now = bucketTraces(meter);
    assert.equal(now['0.075'], trace(3)[0]);
    assert.equal(now['0.05'], trace(2)[0]);
  });
});

describe('legacy preset: exemplars per status_code series', () => {
  test('each (method, route, status_code) series carries exemplars of its own code only', () => {
    const clock = new ManualClock();
    const meter = createMeter({
      metricsDetailed: true,
      iniPath: false,
      env: {},
      traceSource: false,
      clock,
      prometheusNaming: 'legacy',
    });
    const ep = meter.endpoint('GET', '/items/{id}')!;
    send(meter, ep, { status: 200, ms: 20, trace: trace(1) });
    clock.advance(10);
    send(meter, ep, { status: 500, ms: 300, trace: trace(2) });
    clock.advance(10);
    send(meter, ep, { status: 404, ms: 3, trace: trace(3) });
    const render = () =>
      parseExposition(renderPrometheus(meter, { naming: 'legacy', format: 'openmetrics' }), 'openmetrics').get(
        'http_request_duration_seconds',
      )!;
    let f = render();
    const byCode = (code: string) =>
      f.samples
        .filter((x) => x.labels.status_code === code && x.exemplar !== undefined)
        .map((x) => [x.labels.le, x.exemplar!.labels.trace_id]);
    assert.deepEqual(byCode('200'), [['0.025', trace(1)[0]]]);
    assert.deepEqual(byCode('503'), []);
    clock.advance(10);
    // Same power-of-two range as trace 1 (16–32 ms) but a 503: it takes the range's slot; the 503 series
    // gets trace 4, the 200 series keeps the exemplar it wrote before (never one of another code).
    send(meter, ep, { status: 503, ms: 24, trace: trace(4) });
    f = render();
    assert.deepEqual(byCode('200'), [['0.025', trace(1)[0]]]);
    assert.deepEqual(byCode('500'), [['0.5', trace(2)[0]]]);
    assert.deepEqual(byCode('404'), [['0.005', trace(3)[0]]]);
    assert.deepEqual(byCode('503'), [['0.025', trace(4)[0]]]);
    // The 0.0.4 text format has no exemplars.
    assert.doesNotMatch(renderPrometheus(meter, { naming: 'legacy' }), / # \{/);
    // express-prom-bundle's default series are per code over every endpoint: a series merged from two
    // endpoints has no exemplar, one that only one endpoint fed keeps its exemplars.
    send(meter, meter.endpoint('GET', '/other')!, { status: 200, ms: 5, trace: trace(5) });
    f = parseExposition(
      renderPrometheus(meter, { naming: 'legacy', format: 'openmetrics', legacy: { flavor: 'express-prom-bundle' } }),
      'openmetrics',
    ).get('http_request_duration_seconds')!;
    assert.deepEqual(byCode('200'), []);
    assert.deepEqual(byCode('500'), [['0.3', trace(2)[0]]]);
  });
});

describe('exemplars ingested by a real Prometheus', { skip: PROMETHEUS_SKIP }, () => {
  let meter: Meter;
  let ep: EndpointStats;
  let server: http.Server;
  let prom: RunningPrometheus;
  let native: RunningPrometheus;

  before(async () => {
    meter = createMeter({ metricsDetailed: true, iniPath: false, env: {}, traceSource: false });
    ep = meter.endpoint('GET', '/x')!;
    server = http.createServer(createNodeHandler(createMetricsApi({ meter, openPrometheus: true })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    // One scrapes OpenMetrics; the other, with native histograms, scrapes protobuf (exemplars on buckets).
    [prom, native] = await Promise.all([
      startPrometheus({ app: host }, { flags: ['--enable-feature=exemplar-storage'] }),
      startPrometheus({ app: host }, { flags: ['--enable-feature=exemplar-storage,native-histograms'] }),
    ]);
  });

  after(async () => {
    await Promise.all([prom?.stop(), native?.stop()]);
    await new Promise((resolve) => server?.close(resolve));
  });

  const scraped = (n: number) =>
    Promise.all([
      prom.until(
        'http_server_request_duration_seconds_count{job="app"}',
        (r) => r.length === 1 && Number(r[0].value[1]) === n,
        `scrape of ${n} requests`,
      ),
      native.until(
        'histogram_count(http_server_request_duration_seconds{job="app"})',
        (r) => r.length === 1 && Number(r[0].value[1]) === n,
        `native scrape of ${n} requests`,
      ),
    ]);

  test('no out-of-order exemplar is dropped across scrapes; Prometheus stores the latest per bucket', async (t) => {
    send(meter, ep, { status: 200, ms: 28, trace: trace(1) });
    await scraped(1);
    await sleep(5); // distinct exemplar timestamps
    send(meter, ep, { status: 200, ms: 40, trace: trace(2) });
    await scraped(2);
    await sleep(5);
    send(meter, ep, { status: 200, ms: 60, trace: trace(3) });
    await scraped(3);
    await sleep(3000); // three more scrapes of the same exposition
    assert.doesNotMatch(prom.log(), /out-of-order exemplar/i, prom.log());
    const end = Date.now() / 1000;
    const series = await prom.api<ExemplarSeries[]>(
      `/api/v1/query_exemplars?query=${encodeURIComponent('http_server_request_duration_seconds_bucket{job="app"}')}&start=${end - 600}&end=${end}`,
    );
    const byLe = Object.fromEntries(series.map((s) => [s.seriesLabels.le, s.exemplars.map((e) => e.labels.trace_id)]));
    assert.deepEqual(byLe, {
      '0.05': [trace(1)[0], trace(2)[0]],
      '0.075': [trace(3)[0]],
    });
    // Through protobuf the exemplars ride on the classic buckets and Prometheus files them under the
    // native histogram's one series. Observed with 2.42: it stores the first bucket's exemplar of each
    // scrape only, so trace 3 (on the 0.075 bucket, behind trace 2 on 0.05) is not kept; what it keeps
    // is in time order and nothing is dropped as out of order.
    assert.doesNotMatch(native.log(), /out-of-order exemplar/i, native.log());
    const nativeSeries = await native.api<ExemplarSeries[]>(
      `/api/v1/query_exemplars?query=${encodeURIComponent('http_server_request_duration_seconds{job="app"}')}&start=${end - 600}&end=${end}`,
    );
    t.diagnostic(`native histogram exemplars: ${JSON.stringify(nativeSeries.map((x) => x.exemplars))}`);
    const kept = nativeSeries.flatMap((x) => x.exemplars);
    assert.deepEqual(
      kept.slice(0, 2).map((e) => [e.labels.trace_id, Number(e.value)]),
      [
        [trace(1)[0], 0.028],
        [trace(2)[0], 0.04],
      ],
    );
    assert.ok(kept.every((e, i) => i === 0 || e.timestamp > kept[i - 1].timestamp));
  });
});
