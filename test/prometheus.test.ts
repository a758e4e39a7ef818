import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { createMeter, ErrorKind, LATENCY_SKETCH, ManualClock, Sketch } from '../src/index.js';
import type { Meter } from '../src/index.js';
import {
  cumulativeBuckets,
  DURATION_BOUNDS_SECONDS,
  goFloat,
  negotiateFormat,
  OPENMETRICS_CONTENT_TYPE,
  renderPrometheus,
  SIZE_BOUNDS_BYTES,
} from '../src/exporters/prometheus.js';
import { get, serveApi } from './helpers/api.js';
import { lognormal, rng } from './helpers/datasets.js';
import { parseExposition, seriesKey } from './helpers/prometheus.js';
import type { Family } from './helpers/prometheus.js';

const WEIRD = '/we"ird\\ro\nute';
const B = 2 ** (2 ** -LATENCY_SKETCH.scale);

interface Sent {
  method: string;
  route: string;
  status: number;
  ms: number;
  reqBytes: number;
  resBytes: number;
  kind: ErrorKind;
}

/** A meter with known traffic: durations spread over every bucket, exact boundary values, sizes, errors. */
function trafficMeter(): { meter: Meter; sent: Sent[]; clock: ManualClock } {
  const clock = new ManualClock(Date.parse('2025-03-01T12:00:00Z'));
  const meter = createMeter({ iniPath: false, env: {}, clock });
  const r = rng(3);
  const sent: Sent[] = [];
  const send = (s: Sent) => {
    meter.record(meter.endpoint(s.method, s.route)!, s.status, s.ms, s.reqBytes, s.resBytes, s.kind);
    sent.push(s);
  };
  for (let i = 0; i < 3000; i++) {
    // Clock moves on: slots are folded into the total as they pass, the last one stays unfolded.
    if (i % 100 === 0) clock.advance(7_000);
    const edge = DURATION_BOUNDS_SECONDS[i % DURATION_BOUNDS_SECONDS.length] * 1000;
    send({
      method: 'GET',
      route: '/items/{id}',
      status: i % 50 === 0 ? 503 : i % 7 === 0 ? 404 : 200,
      ms: i % 10 === 0 ? edge : i % 97 === 0 ? 0 : lognormal(r, 40, 1.4),
      reqBytes: 0,
      resBytes: Math.floor(4 ** (r() * 12)),
      kind: ErrorKind.None,
    });
  }
  for (let i = 0; i < 40; i++) {
    send({
      method: 'POST',
      route: WEIRD,
      status: 422,
      ms: 2 + i,
      reqBytes: 64 * i,
      resBytes: -1,
      kind: ErrorKind.Validation,
    });
  }
  send({ method: 'GET', route: '/odd', status: 999, ms: 1, reqBytes: -1, resBytes: -1, kind: ErrorKind.None });
  return { meter, sent, clock };
}

function byName(families: Map<string, Family>, name: string): Family {
  const f = families.get(name);
  assert.ok(f, `no family ${name}; have ${[...families.keys()].join(', ')}`);
  return f;
}

/** Histogram series of a family, keyed by their labels without `le`. */
function histograms(f: Family) {
  const out = new Map<
    string,
    { buckets: [number, number][]; sum: number; count: number; labels: Record<string, string> }
  >();
  for (const s of f.samples) {
    const key = seriesKey(s.labels);
    let h = out.get(key);
    if (h === undefined) {
      const { le: _le, ...labels } = s.labels;
      out.set(key, (h = { buckets: [], sum: NaN, count: NaN, labels }));
    }
    if (s.name.endsWith('_bucket')) h.buckets.push([s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value]);
    else if (s.name.endsWith('_sum')) h.sum = s.value;
    else h.count = s.value;
  }
  return out;
}

describe('Prometheus exposition', () => {
  test('text 0.0.4: HELP/TYPE, escaped labels, counters equal to the traffic sent', () => {
    const { meter, sent } = trafficMeter();
    const text = renderPrometheus(meter);
    const families = parseExposition(text, 'text');
    for (const f of families.values()) assert.ok(f.help.length > 10, `${f.name} has help`);

    const requests = byName(families, 'http_server_requests_total');
    assert.equal(requests.type, 'counter');
    const counted = new Map<string, number>();
    for (const s of requests.samples)
      counted.set(`${s.labels.method} ${s.labels.route} ${s.labels.status_class}`, s.value);
    const expected = new Map<string, number>();
    for (const s of sent) {
      const cls = s.status >= 100 && s.status <= 599 ? `${Math.floor(s.status / 100)}xx` : 'other';
      const key = `${s.method} ${s.route} ${cls}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    assert.deepEqual(counted, expected);
    assert.ok(
      counted.has(`POST ${WEIRD} 4xx`),
      'the route with a quote, a backslash and a newline round-trips exactly',
    );
    assert.ok(text.includes('route="/we\\"ird\\\\ro\\nute"'), 'escaped as \\" \\\\ \\n');

    const errors = byName(families, 'http_server_errors_total');
    const errs = Object.fromEntries(errors.samples.map((s) => [`${s.labels.route} ${s.labels.error_type}`, s.value]));
    assert.deepEqual(errs, {
      '/items/{id} server_error': sent.filter((s) => s.status === 503).length,
      '/items/{id} client_error': sent.filter((s) => s.status === 404).length,
      [`${WEIRD} validation`]: 40,
    });
    const meterFamilies = [
      'apimeter_endpoints',
      'apimeter_overflowed_endpoints_total',
      'apimeter_overflowed_records_total',
    ];
    for (const name of meterFamilies) assert.ok(families.has(name), name);
    assert.equal(byName(families, 'apimeter_endpoints').samples[0].value, 3);
  });

  test('duration histogram: cumulative, monotone, +Inf = _count = requests; each bucket within the documented bound', () => {
    const { meter, sent } = trafficMeter();
    const families = parseExposition(renderPrometheus(meter), 'text');
    const f = byName(families, 'http_server_request_duration_seconds');
    assert.equal(f.type, 'histogram');
    for (const h of histograms(f).values()) {
      const mine = sent.filter((s) => s.method === h.labels.method && s.route === h.labels.route).map((s) => s.ms);
      assert.deepEqual(
        h.buckets.map(([le]) => le),
        [...DURATION_BOUNDS_SECONDS, Infinity],
      );
      for (let i = 1; i < h.buckets.length; i++) assert.ok(h.buckets[i][1] >= h.buckets[i - 1][1], 'monotone');
      assert.equal(h.buckets.at(-1)![1], h.count, '+Inf = _count');
      assert.equal(h.count, mine.length, '_count = requests sent');
      const sum = mine.reduce((a, b) => a + b, 0) / 1000;
      assert.ok(Math.abs(h.sum - sum) <= 1e-9 * Math.max(1, sum), `_sum ${h.sum} vs ${sum}`);
      for (const [le, n] of h.buckets.slice(0, -1)) {
        // Never a value above le; every value at or below le/b.
        const atMost = mine.filter((ms) => ms <= le * 1000).length;
        const surely = mine.filter((ms) => ms <= (le * 1000) / B).length;
        assert.ok(n <= atMost && n >= surely, `le=${le}: ${n} not in [${surely}, ${atMost}]`);
      }
    }
  });

  test('size histograms: bounds are sketch edges, so buckets are exact', () => {
    const { meter, sent } = trafficMeter();
    const families = parseExposition(renderPrometheus(meter), 'text');
    const res = histograms(byName(families, 'http_server_response_body_size_bytes'));
    const items = [...res.values()].find((h) => h.labels.route === '/items/{id}')!;
    const sizes = sent.filter((s) => s.route === '/items/{id}').map((s) => s.resBytes);
    for (const [le, n] of items.buckets) assert.equal(n, sizes.filter((b) => b <= le).length, `le=${le}`);
    const req = [...histograms(byName(families, 'http_server_request_body_size_bytes')).values()].find(
      (h) => h.labels.method === 'POST',
    )!;
    assert.equal(req.count, 40);
    assert.equal(
      req.sum,
      sent.filter((s) => s.method === 'POST').reduce((a, s) => a + s.reqBytes, 0),
    );
  });

  test('cumulative since start: the current (unfolded) slot is included, folded slots are not counted twice', () => {
    const clock = new ManualClock(Date.parse('2025-03-01T12:00:05Z'));
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const ep = meter.endpoint('GET', '/c')!;
    const count = () =>
      byName(parseExposition(renderPrometheus(meter), 'text'), 'http_server_request_duration_seconds').samples.find(
        (s) => s.name.endsWith('_count'),
      )?.value;
    meter.record(ep, 200, 5, -1, -1, ErrorKind.None);
    assert.equal(count(), 1);
    clock.advance(15_000);
    meter.record(ep, 200, 5, -1, -1, ErrorKind.None);
    assert.equal(count(), 2);
    clock.advance(3_600_000);
    assert.equal(count(), 2, 'old slots leave the rings, not the cumulative counter');
    meter.begin(ep);
    const active = byName(parseExposition(renderPrometheus(meter), 'text'), 'http_server_active_requests');
    assert.equal(active.samples[0].value, 1);
  });

  test('OpenMetrics 1.0 by content negotiation: family names, UNIT, canonical le, # EOF', async () => {
    const { meter } = trafficMeter();
    const served = await serveApi({ meter, openPrometheus: true });
    try {
      const om = await get(`${served.base}/metrics`, {
        accept:
          'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      });
      assert.equal(om.headers.get('content-type'), OPENMETRICS_CONTENT_TYPE);
      const families = parseExposition(om.text, 'openmetrics');
      const requests = byName(families, 'http_server_requests');
      assert.equal(requests.type, 'counter');
      assert.ok(requests.samples.every((s) => s.name === 'http_server_requests_total'));
      assert.equal(byName(families, 'http_server_request_duration_seconds').unit, 'seconds');
      assert.equal(byName(families, 'http_server_response_body_size_bytes').unit, 'bytes');
      assert.match(om.text, /le="0\.005"/);
      assert.match(om.text, /le="1\.0"/);
      assert.match(om.text, /le="10\.0"/);
      assert.match(om.text, /le="1\.048576e\+06"/);
      // Same numbers as the text format.
      const text = parseExposition((await get(`${served.base}/metrics`)).text, 'text');
      assert.deepEqual(
        requests.samples.map((s) => s.value),
        byName(text, 'http_server_requests_total').samples.map((s) => s.value),
      );
    } finally {
      await served.close();
    }
  });

  test('legacy naming preset and the opt-in exact status label', () => {
    const { meter, sent } = trafficMeter();
    const legacy = parseExposition(renderPrometheus(meter, { naming: 'legacy' }), 'text');
    assert.ok(legacy.has('http_request_duration_seconds'));
    const total = byName(legacy, 'http_requests_total');
    // The legacy preset writes routes as fastify-metrics and Express do.
    const n404 = total.samples.find((s) => s.labels.status_code === '404' && s.labels.route === '/items/:id')!;
    assert.equal(n404.value, sent.filter((s) => s.status === 404).length);
    assert.ok(!legacy.has('http_server_requests_total'));

    const detailed = parseExposition(renderPrometheus(meter, { statusLabel: true }), 'text');
    const s503 = byName(detailed, 'http_server_requests_total').samples.find((s) => s.labels.status === '503')!;
    assert.deepEqual(s503.labels, { method: 'GET', route: '/items/{id}', status_class: '5xx', status: '503' });
    const odd = byName(detailed, 'http_server_requests_total').samples.find((s) => s.labels.route === '/odd')!;
    assert.deepEqual(odd.labels.status_class, 'other');
  });

  test('promtool check metrics accepts the exposition (both naming presets, status labels, hostile routes)', (t) => {
    if (spawnSync('promtool', ['--version']).error) {
      t.skip('promtool is not installed (Debian package prometheus; .ci/run installs it)');
      return;
    }
    const { meter } = trafficMeter();
    for (const options of [{}, { naming: 'legacy' as const }, { statusLabel: true }]) {
      const r = spawnSync('promtool', ['check', 'metrics'], {
        input: renderPrometheus(meter, options),
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `${JSON.stringify(options)}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout + r.stderr, '', 'no lint findings');
    }
    const empty = spawnSync('promtool', ['check', 'metrics'], {
      input: renderPrometheus(createMeter({ iniPath: false, env: {} })),
      encoding: 'utf8',
    });
    assert.equal(empty.status, 0, empty.stdout + empty.stderr);
  });

  test('helpers: Accept negotiation, Go float rendering, bucket mapping edge cases', () => {
    assert.equal(negotiateFormat(undefined), 'text');
    assert.equal(negotiateFormat('text/plain'), 'text');
    assert.equal(negotiateFormat('application/openmetrics-text'), 'openmetrics');
    assert.equal(negotiateFormat('text/plain;q=0.9, application/openmetrics-text;q=0.5'), 'text');
    assert.equal(negotiateFormat('application/openmetrics-text;q=0'), 'text');
    assert.equal(negotiateFormat('*/*'), 'text');
    assert.deepEqual([0.005, 0.25, 1, 10, 100000, 1048576, 0.0001, 0.00001].map(goFloat), [
      '0.005',
      '0.25',
      '1',
      '10',
      '100000',
      '1.048576e+06',
      '0.0001',
      '1e-05',
    ]);
    const empty = new Sketch(LATENCY_SKETCH);
    assert.deepEqual(cumulativeBuckets(empty, DURATION_BOUNDS_SECONDS, 1000), Array(14).fill(0));
    const zeros = new Sketch(LATENCY_SKETCH);
    for (let i = 0; i < 3; i++) zeros.record(0);
    zeros.record(60_000);
    assert.deepEqual(cumulativeBuckets(zeros, DURATION_BOUNDS_SECONDS, 1000), Array(14).fill(3));
    assert.equal(SIZE_BOUNDS_BYTES[0], 64);
    assert.equal(SIZE_BOUNDS_BYTES.at(-1), 16 * 1024 * 1024);
  });
});
