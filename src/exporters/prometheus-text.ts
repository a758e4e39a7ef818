/**
 * Writing Prometheus text exposition 0.0.4 and OpenMetrics 1.0 text: escaping, number formatting and
 * the metadata lines of a family. The two formats differ in the family name of counters (OpenMetrics
 * names the family without `_total`), the `# UNIT` line, the `le` spelling and the closing `# EOF`.
 */
import type { Sketch } from '../core/sketch.js';
import type { PrometheusMetric } from './catalogue.js';
import { cumulativeBuckets } from './prometheus-buckets.js';

export type ExpositionFormat = 'text' | 'openmetrics';
/** What a scrape can be answered with: the two text formats, or the protobuf one (native histograms). */
export type ScrapeFormat = ExpositionFormat | 'protobuf';
export type MetricType = 'counter' | 'gauge' | 'histogram';
/** Label name/value pairs, in output order. */
export type Labels = readonly (readonly [string, string])[];

/** An exemplar ready to write: labels, value in the histogram's unit, timestamp in seconds since the epoch. */
export interface ExemplarOut {
  readonly labels: Labels;
  readonly value: number;
  readonly timestamp: number;
}

/** An exemplar as OpenMetrics writes it after ` # `: `{trace_id="…",span_id="…"} 0.067 1732550000.123`. */
export function exemplarText(x: ExemplarOut): string {
  return `${labelSet(x.labels)} ${formatValue(x.value)} ${formatValue(x.timestamp)}`;
}

/**
 * What the family writers (prometheus.ts, -detail.ts, -alerts.ts) write to: the text writer below, or
 * the protobuf one (prometheus-protobuf.ts). Families are written one after the other, each with its
 * metadata first.
 */
export interface MetricWriter {
  readonly format: ScrapeFormat;
  /** Metadata of a family. `name` is the sample name of counters (with `_total`) and the base name otherwise. */
  family(name: string, type: MetricType, help: string, unit?: string): void;
  /** One counter or gauge sample of the current family; `exemplar` (OpenMetrics text after ` # `) where the format has them. */
  sample(name: string, labels: Labels, value: number, exemplar?: string): void;
  /**
   * One histogram of the current family from a sketch: classic buckets at `bounds` (in the exposition's
   * unit, `unit` sketch units each), and in the protobuf format the native buckets too. `exemplars`:
   * one per classic bucket and `+Inf`, where the format has them (OpenMetrics, protobuf).
   */
  histogram(
    name: string,
    labels: Labels,
    sketch: Sketch,
    bounds: readonly number[],
    unit: number,
    exemplars?: readonly (ExemplarOut | undefined)[],
  ): void;
}

/** Label value escaping of both formats: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escaping: 0.0.4 escapes backslash and line feed; OpenMetrics also the double quote. */
export function escapeHelp(text: string, format: ExpositionFormat): string {
  const pattern = format === 'openmetrics' ? /[\\"\n]/g : /[\\\n]/g;
  return text.replace(pattern, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

export function formatValue(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

/**
 * A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` writes it (what Prometheus' own clients use for
 * `le`): shortest digits, exponent form below 1e-4 or from 1e+06 (`1e+06`, `0.005`, `2.5`).
 */
export function goFloat(n: number): string {
  if (n === 0) return '0';
  const [mantissa, exponent] = n.toExponential().split('e');
  const e = Number(exponent);
  if (e < -4 || e >= 6) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return String(n);
}

/** The `le` label value of a bucket bound: Go's rendering, with `.0` added for OpenMetrics (its canonical form). */
export function formatLe(bound: number, format: ExpositionFormat): string {
  if (bound === Infinity) return '+Inf';
  const text = goFloat(bound);
  return format === 'openmetrics' && !/[.e]/.test(text) ? `${text}.0` : text;
}

/** `{a="x",b="y"}` from name/value pairs (values escaped), or '' for none. */
export function labelSet(pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** Accumulates one text exposition (0.0.4 or OpenMetrics), family by family. */
export class ExpositionWriter implements MetricWriter {
  private readonly lines: string[] = [];

  constructor(readonly format: ExpositionFormat) {}

  /** Metadata of a family. `name` is the sample name of counters (with `_total`) and the base name otherwise. */
  family(name: string, type: MetricType, help: string, unit?: string): void {
    if (this.format === 'text') {
      this.lines.push(`# HELP ${name} ${escapeHelp(help, 'text')}`, `# TYPE ${name} ${type}`);
      return;
    }
    const family = type === 'counter' ? name.replace(/_total$/, '') : name;
    this.lines.push(`# TYPE ${family} ${type}`);
    if (unit !== undefined) this.lines.push(`# UNIT ${family} ${unit}`);
    this.lines.push(`# HELP ${family} ${escapeHelp(help, 'openmetrics')}`);
  }

  /** One sample; `exemplar` (` # {…} value timestamp` without the leading ` # `) is written in OpenMetrics only. */
  sample(name: string, labels: Labels, value: number, exemplar?: string): void {
    const set = labelSet(labels);
    if (exemplar !== undefined && this.format === 'openmetrics') {
      this.lines.push(`${name}${set} ${formatValue(value)} # ${exemplar}`);
    } else this.lines.push(`${name}${set} ${formatValue(value)}`);
  }

  /** `_bucket` lines at `bounds` and `+Inf`, then `_sum` (in the exposition's unit) and `_count`. */
  histogram(
    name: string,
    labels: Labels,
    sketch: Sketch,
    bounds: readonly number[],
    unit: number,
    exemplars?: readonly (ExemplarOut | undefined)[],
  ): void {
    const cumulative = cumulativeBuckets(sketch, bounds, unit);
    const ex = (i: number) => {
      const x = exemplars?.[i];
      return x === undefined ? undefined : exemplarText(x);
    };
    bounds.forEach((bound, i) => {
      this.sample(`${name}_bucket`, [...labels, ['le', formatLe(bound, this.format)]], cumulative[i], ex(i));
    });
    this.sample(`${name}_bucket`, [...labels, ['le', '+Inf']], sketch.count, ex(bounds.length));
    this.sample(`${name}_sum`, labels, sketch.sum / unit);
    this.sample(`${name}_count`, labels, sketch.count);
  }

  /** The exposition text: every line ends with a line feed; OpenMetrics ends with `# EOF`. */
  finish(): string {
    if (this.format === 'openmetrics') this.lines.push('# EOF');
    return this.lines.join('\n') + '\n';
  }
}

/**
 * Metadata of a catalogue family whose name and HELP are the same in every naming preset; returns its
 * sample name.
 */
export function catalogueFamily(w: MetricWriter, m: PrometheusMetric): string {
  w.family(m.names.otel, m.type, m.help.otel, m.unit);
  return m.names.otel;
}
