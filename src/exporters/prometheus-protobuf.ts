/**
 * The Prometheus protobuf exposition: a stream of `io.prometheus.client.MetricFamily` messages, each
 * prefixed by its length as a varint (`encoding=delimited`). Field numbers are those of client_model's
 * `io/prometheus/client/metrics.proto`:
 *
 * - MetricFamily: name 1, help 2, type 3 (COUNTER 0, GAUGE 1, HISTOGRAM 4), metric 4
 * - Metric: label 1 (LabelPair: name 1, value 2), gauge 2, counter 3 (value 1 in both), histogram 7
 * - Histogram: sample_count 1, sample_sum 2, bucket 3 (Bucket: cumulative_count 1, upper_bound 2,
 *   exemplar 3 — Exemplar: label 1, value 2, timestamp 3 as google.protobuf.Timestamp: seconds 1, nanos 2),
 *   schema 5 (sint32), zero_threshold 6, zero_count 7, positive_span 12 (BucketSpan: offset 1
 *   sint32, length 2), positive_delta 13 (sint64)
 *
 * Histograms carry both the classic buckets (the same bounds as the text formats) and the native ones
 * (prometheus-native.ts). A Prometheus with `--enable-feature=native-histograms` asks for this format
 * and stores the native histogram.
 */
import type { Sketch } from '../core/sketch.js';
import { cumulativeBuckets } from './prometheus-buckets.js';
import { nativeHistogram } from './prometheus-native.js';
import type { ExemplarOut, Labels, MetricType, MetricWriter } from './prometheus-text.js';
import { ProtoWriter } from './protobuf-writer.js';

export const PROTOBUF_CONTENT_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

const TYPE_ENUM: Record<MetricType, number> = { counter: 0, gauge: 1, histogram: 4 };

interface OpenFamily {
  name: string;
  help: string;
  type: MetricType;
  metrics: Uint8Array[];
}

function writeLabels(m: ProtoWriter, labels: Labels): void {
  for (const [name, value] of labels) {
    m.message(1, (p) => {
      p.string(1, name);
      p.string(2, value);
    });
  }
}

/** Exemplar: labels, value, and its timestamp as google.protobuf.Timestamp (seconds, nanos). */
function writeExemplar(e: ProtoWriter, x: ExemplarOut): void {
  writeLabels(e, x.labels);
  e.double(2, x.value);
  const seconds = Math.floor(x.timestamp);
  const nanos = Math.round((x.timestamp - seconds) * 1e9);
  e.message(3, (t) => {
    t.uint(1, seconds);
    if (nanos > 0) t.uint(2, Math.min(nanos, 999_999_999));
  });
}

/** Collects families as MetricFamily messages; `finish()` returns the delimited stream. */
export class ProtobufWriter implements MetricWriter {
  readonly format = 'protobuf' as const;
  private readonly out = new ProtoWriter();
  private current: OpenFamily | undefined;

  family(name: string, type: MetricType, help: string): void {
    this.flush();
    this.current = { name, help, type, metrics: [] };
  }

  /** A counter or gauge sample (the sample name is the family's). */
  sample(_name: string, labels: Labels, value: number): void {
    const f = this.current;
    if (f === undefined) return;
    const m = new ProtoWriter();
    writeLabels(m, labels);
    m.message(f.type === 'counter' ? 3 : 2, (v) => v.double(1, value));
    f.metrics.push(m.finish());
  }

  histogram(
    _name: string,
    labels: Labels,
    sketch: Sketch,
    bounds: readonly number[],
    unit: number,
    exemplars?: readonly (ExemplarOut | undefined)[],
  ): void {
    const f = this.current;
    if (f === undefined) return;
    const m = new ProtoWriter();
    writeLabels(m, labels);
    m.message(7, (h) => {
      h.uint(1, Math.round(sketch.count));
      h.double(2, sketch.sum / unit);
      const cumulative = cumulativeBuckets(sketch, bounds, unit);
      const bucket = (count: number, bound: number, x: ExemplarOut | undefined) =>
        h.message(3, (b) => {
          b.uint(1, Math.round(count));
          b.double(2, bound);
          if (x !== undefined) b.message(3, (e) => writeExemplar(e, x));
        });
      bounds.forEach((bound, i) => bucket(cumulative[i], bound, exemplars?.[i]));
      // The +Inf bucket is optional; written only to carry its exemplar.
      const inf = exemplars?.[bounds.length];
      if (inf !== undefined) bucket(sketch.count, Infinity, inf);
      const native = nativeHistogram(sketch, unit);
      h.sint(5, native.schema);
      h.double(6, native.zeroThreshold);
      h.uint(7, Math.round(native.zeroCount));
      // No bucket yet: a no-op span marks the histogram as native (metrics.proto's advice).
      const spans = native.spans.length === 0 ? [{ offset: 0, length: 0 }] : native.spans;
      for (const s of spans) {
        h.message(12, (p) => {
          p.sint(1, s.offset);
          p.uint(2, s.length);
        });
      }
      for (const d of native.deltas) h.sint(13, Math.round(d));
    });
    f.metrics.push(m.finish());
  }

  /** Families without a sample are left out (the protobuf format has no use for bare metadata). */
  private flush(): void {
    const f = this.current;
    this.current = undefined;
    if (f === undefined || f.metrics.length === 0) return;
    const fam = new ProtoWriter();
    fam.string(1, f.name);
    fam.string(2, f.help);
    fam.uint(3, TYPE_ENUM[f.type]);
    for (const m of f.metrics) fam.bytes(4, m);
    this.out.delimited(fam.finish());
  }

  finish(): Uint8Array {
    this.flush();
    return this.out.finish();
  }
}
