/**
 * The protobuf exposition read back with an independent decoder (protobufjs over client_model's
 * metrics.proto field numbers), and the native buckets checked against the values recorded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { createMeter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { Sketch, SIZE_SKETCH } from '../src/core/sketch.js';
import {
  DURATION_BOUNDS_SECONDS,
  nativeEdgeFactor,
  nativeHistogram,
  negotiateFormat,
  renderPrometheus,
  renderPrometheusProtobuf,
} from '../src/exporters/prometheus.js';
import { datasets } from './helpers/datasets.js';
import { detailTraffic, T0, trace } from './helpers/detail-traffic.js';

// io/prometheus/client/metrics.proto (prometheus/client_model), the messages a scrape uses.
const PROTO = `
syntax = "proto2";
package io.prometheus.client;
message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Gauge { optional double value = 1; }
message Counter { optional double value = 1; }
message Timestamp { optional int64 seconds = 1; optional int32 nanos = 2; }
message Exemplar { repeated LabelPair label = 1; optional double value = 2; optional Timestamp timestamp = 3; }
message Bucket { optional uint64 cumulative_count = 1; optional double cumulative_count_float = 4; optional double upper_bound = 2; optional Exemplar exemplar = 3; }
message BucketSpan { optional sint32 offset = 1; optional uint32 length = 2; }
message Histogram {
  optional uint64 sample_count = 1; optional double sample_count_float = 4; optional double sample_sum = 2;
  repeated Bucket bucket = 3; optional sint32 schema = 5; optional double zero_threshold = 6;
  optional uint64 zero_count = 7; optional double zero_count_float = 8;
  repeated BucketSpan negative_span = 9; repeated sint64 negative_delta = 10; repeated double negative_count = 11;
  repeated BucketSpan positive_span = 12; repeated sint64 positive_delta = 13; repeated double positive_count = 14;
}
message Metric {
  repeated LabelPair label = 1; optional Gauge gauge = 2; optional Counter counter = 3;
  optional Histogram histogram = 7; optional int64 timestamp_ms = 6;
}
message MetricFamily { optional string name = 1; optional string help = 2; optional MetricType type = 3; repeated Metric metric = 4; optional string unit = 5; }
`;
const MetricFamily = protobuf.parse(PROTO).root.lookupType('io.prometheus.client.MetricFamily');

interface Decoded {
  name: string;
  help: string;
  type: number;
  metric: {
    label: { name: string; value: string }[];
    counter?: { value: number };
    gauge?: { value: number };
    histogram?: {
      sampleCount: number;
      sampleSum: number;
      bucket: {
        cumulativeCount: number;
        upperBound: number;
        exemplar?: {
          label: { name: string; value: string }[];
          value: number;
          timestamp: { seconds: number; nanos: number };
        };
      }[];
      schema: number;
      zeroThreshold: number;
      zeroCount: number;
      positiveSpan: { offset: number; length: number }[];
      positiveDelta: number[];
    };
  }[];
}

function decodeAll(bytes: Uint8Array): Decoded[] {
  const reader = protobuf.Reader.create(bytes);
  const out: Decoded[] = [];
  while (reader.pos < reader.len) {
    const m = MetricFamily.decodeDelimited(reader);
    out.push(MetricFamily.toObject(m, { longs: Number, defaults: true }) as Decoded);
  }
  return out;
}

/** Native buckets as [index, count] pairs, from spans and deltas (Prometheus' reading). */
function nativeBuckets(h: NonNullable<Decoded['metric'][number]['histogram']>): [number, number][] {
  const out: [number, number][] = [];
  let index = 0;
  let count = 0;
  let d = 0;
  h.positiveSpan.forEach((s) => {
    index += s.offset;
    for (let j = 0; j < s.length; j++) {
      count += h.positiveDelta[d++];
      out.push([index, count]);
      index++;
    }
  });
  assert.equal(d, h.positiveDelta.length, 'as many deltas as the spans cover');
  return out;
}

const label = (m: Decoded['metric'][number], name: string) => m.label.find((l) => l.name === name)?.value;

describe('protobuf exposition', () => {
  test('Prometheus 2.42 Accept header selects protobuf; others keep their text formats', () => {
    const prometheusNative =
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,' +
      'application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,' +
      'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const prometheusDefault =
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,' +
      'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    assert.equal(negotiateFormat(prometheusNative), 'protobuf');
    assert.equal(negotiateFormat(prometheusDefault), 'openmetrics');
    assert.equal(negotiateFormat(undefined), 'text');
    assert.equal(negotiateFormat('*/*'), 'text');
    // The text encoding of protobuf, or another message type, is not what we write.
    assert.equal(
      negotiateFormat('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text'),
      'text',
    );
    assert.equal(negotiateFormat('application/vnd.google.protobuf;proto=other.Message;encoding=delimited'), 'text');
    assert.equal(
      negotiateFormat(
        'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.2,text/plain',
      ),
      'text',
    );
  });

  test('families, counters and both bucket kinds decode; native buckets hold exactly the recorded values', () => {
    const meter = createMeter({ iniPath: false, env: {} });
    const ep = meter.endpoint('GET', '/orders/{id}')!;
    const values = datasets().fullRange.slice(0, 5000);
    for (const ms of values) meter.record(ep, 200, ms, 100, 2000, ErrorKind.None);
    for (let i = 0; i < 7; i++) meter.record(ep, 503, 0, -1, -1, ErrorKind.None);
    const families = decodeAll(renderPrometheusProtobuf(meter));
    const byName = new Map(families.map((f) => [f.name, f]));

    const requests = byName.get('http_server_requests_total')!;
    assert.equal(requests.type, 0);
    assert.deepEqual(
      requests.metric.map((m) => [label(m, 'status_class'), m.counter?.value]),
      [
        ['2xx', 5000],
        ['5xx', 7],
      ],
    );
    assert.equal(byName.get('http_server_active_requests')!.type, 1);
    assert.equal(byName.has('http_server_errors_total'), true);
    // Families without samples are left out (text writes their metadata).
    assert.ok(renderPrometheus(meter).includes('# TYPE http_server_errors_total counter'));

    const duration = byName.get('http_server_request_duration_seconds')!;
    assert.equal(duration.type, 4);
    const h = duration.metric[0].histogram!;
    assert.equal(h.sampleCount, 5007);
    assert.equal(h.zeroCount, 7);
    assert.equal(h.zeroThreshold, 0);
    assert.equal(h.schema, 6);
    const sum = values.reduce((a, b) => a + b, 0) / 1000;
    assert.ok(Math.abs(h.sampleSum - sum) <= 1e-9 * sum);
    // Classic buckets: the text format's bounds, cumulative.
    assert.deepEqual(
      h.bucket.map((b) => b.upperBound),
      [...DURATION_BOUNDS_SECONDS],
    );
    const text = renderPrometheus(meter);
    for (const b of h.bucket) {
      const line = text
        .split('\n')
        .find(
          (l) => l.startsWith('http_server_request_duration_seconds_bucket') && l.includes(`le="${b.upperBound}"`),
        )!;
      assert.equal(Number(line.split(' ').pop()), b.cumulativeCount);
    }
    // Native: each value lies in its bucket once the edges are divided by the documented factor
    // (0.99795), with the Math.log2 rounding slack at exact edges.
    const buckets = nativeBuckets(h);
    assert.equal(buckets.reduce((n, [, c]) => n + c, 0) + h.zeroCount, h.sampleCount);
    const factor = nativeEdgeFactor(6, 1000);
    assert.ok(Math.abs(factor - 0.99795) < 1e-5, `factor ${factor}`);
    const counted = new Map<number, number>();
    for (const ms of values) {
      const s = ms / 1000;
      // k: the native bucket (base^(k−1), base^k] that holds s·factor (exactly: ceil(log_base(s·factor))).
      const k = Math.ceil(Math.log2(s * factor) * 64 - 1e-9);
      counted.set(k, (counted.get(k) ?? 0) + 1);
    }
    for (const [k, c] of buckets) {
      if (c === 0) continue;
      const got = counted.get(k) ?? 0;
      assert.ok(Math.abs(got - c) <= Math.max(1, c * 0.01), `native bucket ${k}: ${c}, expected ≈ ${got}`);
    }

    // Sizes: bytes, scale 3, exact: every recorded size (100 B requests) is in bucket (b^(k-1), b^k].
    const req = byName.get('http_server_request_body_size_bytes')!.metric[0].histogram!;
    assert.equal(req.schema, 3);
    const [[k, c]] = nativeBuckets(req);
    assert.equal(c, 5000);
    assert.ok(2 ** ((k - 1) / 8) < 100 && 100 <= 2 ** (k / 8), `100 B in native bucket ${k}`);
  });

  test('airflow preset: milliseconds in, milliseconds out, so the native histogram is the sketch exactly', () => {
    const meter = createMeter({ iniPath: false, env: {} });
    const ep = meter.endpoint('GET', '/api/v2/dags')!;
    const values = datasets().lognormal.slice(0, 3000);
    for (const ms of values) meter.record(ep, 200, ms, -1, -1, ErrorKind.None);
    const f = decodeAll(renderPrometheusProtobuf(meter, { naming: 'airflow' })).find(
      (x) => x.name === 'http_request_duration_milliseconds',
    )!;
    const h = f.metric[0].histogram!;
    assert.equal(h.schema, 6);
    assert.equal(nativeEdgeFactor(6, 1), 1);
    const counted = new Map<number, number>();
    for (const ms of values) {
      const k = Math.ceil(Math.log2(ms) * 64);
      counted.set(k, (counted.get(k) ?? 0) + 1);
    }
    // Exact up to Math.log2 rounding at an edge (a value on an edge may sit one bucket over).
    let off = 0;
    for (const [k, c] of nativeBuckets(h)) off += Math.abs((counted.get(k) ?? 0) - c);
    assert.ok(off <= 2, `${off} values in another bucket`);
    assert.deepEqual(
      h.bucket.map((b) => b.upperBound),
      DURATION_BOUNDS_SECONDS.map((s) => Math.round(s * 1000)),
    );
  });

  test('exemplars (detailed mode) ride on the classic buckets, as in OpenMetrics', () => {
    const { meter } = detailTraffic();
    const f = decodeAll(renderPrometheusProtobuf(meter)).find(
      (x) => x.name === 'http_server_request_duration_seconds',
    )!;
    const get = f.metric.find((m) => label(m, 'method') === 'GET')!.histogram!;
    const ex = get.bucket
      .filter((b) => b.exemplar !== undefined && b.exemplar !== null)
      .map((b) => [
        b.upperBound,
        b.exemplar!.label.map((l) => `${l.name}=${l.value}`).join(','),
        b.exemplar!.value,
        b.exemplar!.timestamp.seconds + b.exemplar!.timestamp.nanos / 1e9,
      ]);
    // The same four as the OpenMetrics test (test/prometheus-detail.test.ts): 3, 20, 40, 300 ms.
    const at = (n: number, ms: number, t: number) => [
      `trace_id=${trace(n)[0]},span_id=${trace(n)[1]}`,
      ms / 1000,
      t / 1000,
    ];
    assert.deepEqual(ex, [
      [0.005, ...at(1, 3, T0)],
      [0.025, ...at(5, 20, T0 + 500)],
      [0.05, ...at(3, 40, T0)],
      [0.5, ...at(4, 300, T0)],
    ]);
  });

  test('spans and deltas: gaps up to two buckets stay in a span, wider gaps open a new one; empty is a no-op span', () => {
    const s = new Sketch(SIZE_SKETCH);
    for (const v of [1.5, 1.5, 2, 3, 100, 100, 100]) s.record(v);
    const n = nativeHistogram(s, 1);
    // Buckets (OTel index): 1.5 → 4, 2 → 7, 3 → 12, 100 → 53; Prometheus index + 1.
    assert.deepEqual(n.spans, [
      { offset: 5, length: 4 },
      { offset: 4, length: 1 },
      { offset: 40, length: 1 },
    ]);
    assert.deepEqual(n.deltas, [2, -2, 0, 1, 0, 2]);
    assert.equal(n.zeroCount, 0);
    const empty = nativeHistogram(new Sketch(SIZE_SKETCH), 1);
    assert.deepEqual([empty.spans, empty.deltas], [[], []]);
    // The writer turns no span into the no-op span { offset 0, length 0 } that marks a histogram native.
    const meter = createMeter({ iniPath: false, env: {} });
    meter.record(meter.endpoint('GET', '/x')!, 200, 5, -1, -1, ErrorKind.None);
    const sizes = decodeAll(renderPrometheusProtobuf(meter)).find(
      (f) => f.name === 'http_server_request_body_size_bytes',
    )!;
    assert.deepEqual(sizes.metric[0].histogram!.positiveSpan, [{ offset: 0, length: 0 }]);
  });
});
