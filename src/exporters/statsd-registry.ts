import { STATUS_CLASSES, statusClassLabel } from '../core/counts.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import type { DeltaConsumer } from '../core/reader.js';
import { ERROR_TYPES } from '../core/record.js';
import { bucketValue, LATENCY_SKETCH, SIZE_SKETCH } from '../core/sketch.js';
import { statsdOf } from './catalogue.js';
import type { MetricKey as CatalogueKey } from './catalogue.js';
import { addDetailDeltas, DETAIL_METRICS, DETAIL_SLOTS, writeDetailLines } from './statsd-detail.js';
import type { DetailMetric } from './statsd-detail.js';
import { decimal, shortDecimal } from './statsd-format.js';
import type { StatsdFormat } from './statsd-format.js';
import { nameFilter } from './statsd-options.js';
import type { StatsdExporterOptions } from './statsd-options.js';
import type { DatagramSender } from './statsd-sender.js';

/**
 * Counter slots per endpoint group: status classes (STATUS_CLASSES: 1xx–5xx, other), the five error
 * types, then detailed mode's counters (statsd-detail.ts).
 */
const ERROR_SLOT = STATUS_CLASSES.length;
const DETAIL_SLOT = ERROR_SLOT + ERROR_TYPES.length;
const SLOTS = DETAIL_SLOT + DETAIL_SLOTS;

/**
 * Endpoints that end up with the same name and tags (a disabled `endpoint` tag, two routes that fold to
 * one StatsD segment) share a group: their deltas are added before sending, so gauges and counters stay
 * right instead of overwriting each other at the server.
 */
export class Group {
  readonly counts = new Float64Array(SLOTS);
  codes: Map<number, number> | null = null;
  /** (bucket index, count) pairs of new values, per distribution. */
  readonly latency: number[] = [];
  latencyZeros = 0;
  readonly requestSize: number[] = [];
  requestSizeZeros = 0;
  readonly responseSize: number[] = [];
  responseSizeZeros = 0;
  active = 0;
  activeSent = -1;
  readonly latencySink = (index: number, n: number): void => {
    this.latency.push(index, n);
  };
  readonly requestSink = (index: number, n: number): void => {
    this.requestSize.push(index, n);
  };
  readonly responseSink = (index: number, n: number): void => {
    this.responseSize.push(index, n);
  };
  members = 0;

  constructor(readonly part: string) {}

  reset(): void {
    this.counts.fill(0);
    this.codes?.clear();
    this.latency.length = this.requestSize.length = this.responseSize.length = 0;
    this.latencyZeros = this.requestSizeZeros = this.responseSizeZeros = 0;
    this.active = 0;
  }
}

type Distribution = 'latency' | 'requestSize' | 'responseSize';
type MetricKey = 'count' | 'error' | 'duration' | 'active' | 'requestSize' | 'responseSize';

/** This file's metrics and their catalogue entries. */
const METRICS: Record<MetricKey, CatalogueKey> = {
  count: 'requests',
  error: 'errors',
  duration: 'duration',
  active: 'active',
  requestSize: 'requestSize',
  responseSize: 'responseSize',
};

/**
 * The StatsD lines for the API metrics: reads every endpoint's delta since the previous read from the
 * meter's reader (consumer `statsd`, which keeps the per-endpoint baselines), adds it to the endpoint's
 * group, and writes the groups' lines.
 */
export class RegistryLines {
  /** Endpoint id → its group. */
  private readonly groupOf: (Group | undefined)[] = [];
  private readonly groups = new Map<string, Group>();
  private readonly names: Record<MetricKey, string>;
  private readonly on: Record<MetricKey, boolean>;
  private readonly detailNames: Record<DetailMetric, string>;
  private readonly detailOn: Record<DetailMetric, boolean>;
  private readonly sampleRate: number;
  private readonly values: Map<number, string>[] = [];
  private readonly deltas: DeltaConsumer;

  constructor(
    private readonly meter: Meter,
    private readonly format: StatsdFormat,
    private readonly options: Readonly<StatsdExporterOptions>,
    private readonly sender: DatagramSender,
  ) {
    const metric = (suffix: string) => format.name(options.prefix, options.apiPrefix, suffix);
    const allowed = nameFilter(options.allowList, options.blockList);
    const unprefixed = (suffix: string) => [options.apiPrefix, suffix].filter((p) => p !== '').join('.');
    const keys = Object.keys(METRICS) as MetricKey[];
    this.names = Object.fromEntries(keys.map((k) => [k, metric(statsdOf(METRICS[k]).suffix)])) as typeof this.names;
    this.on = Object.fromEntries(
      keys.map((k) => [k, allowed(unprefixed(statsdOf(METRICS[k]).suffix))]),
    ) as typeof this.on;
    const detail = Object.keys(DETAIL_METRICS) as DetailMetric[];
    this.detailNames = Object.fromEntries(
      detail.map((k) => [k, metric(statsdOf(DETAIL_METRICS[k]).suffix)]),
    ) as typeof this.detailNames;
    this.detailOn = Object.fromEntries(
      detail.map((k) => [k, allowed(unprefixed(statsdOf(DETAIL_METRICS[k]).suffix))]),
    ) as typeof this.detailOn;
    this.sampleRate = meter.config.metricsSampleRate;
    const exact = options.timerMode === 'values';
    const on = this.on;
    const latencyShift = exact ? 0 : Math.max(0, LATENCY_SKETCH.scale - options.timerScale);
    const sizeShift = exact ? 0 : Math.max(0, SIZE_SKETCH.scale - options.timerScale);
    this.deltas = meter.reader.consumer('statsd', {
      latencyShift: on.duration ? latencyShift : null,
      requestSizeShift: on.requestSize ? sizeShift : null,
      responseSizeShift: on.responseSize ? sizeShift : null,
      codes: options.detailed,
    });
  }

  /** Bytes of the per-endpoint baselines (counters and sketch buckets), roughly: for memory accounting. */
  get baselineBytes(): number {
    return this.deltas.baselineBytes;
  }

  /** Every group, for writing after {@link read}. */
  groupList(): IterableIterator<Group> {
    return this.groups.values();
  }

  /** The sketch's estimate for bucket `index` at `scale`, as sent (cached: a few thousand distinct ones). */
  private valueText(scale: number, index: number): string {
    const cache = (this.values[scale] ??= new Map());
    let text = cache.get(index);
    if (text === undefined) {
      text = shortDecimal(bucketValue(scale, index));
      cache.set(index, text);
    }
    return text;
  }

  /** Sample rate of one line standing for `n` values of a sketch fed at `metrics_sample_rate`. */
  private rate(n: number): number {
    return this.sampleRate / n;
  }

  /** The group of an endpoint, created (or joined) on first sight. */
  private groupFor(ep: EndpointStats): Group {
    let group = this.groupOf[ep.id];
    if (group === undefined) {
      const part = this.format.dims([
        ['endpoint', ep.route],
        ['method', ep.method],
      ]);
      group = this.groups.get(part);
      if (group === undefined) {
        group = new Group(part);
        this.groups.set(part, group);
      }
      group.members++;
      this.groupOf[ep.id] = group;
    }
    return group;
  }

  /**
   * Adds every endpoint's changes since the last read to its group. The baselines move on at once
   * (`commit`): a flush that fails to send loses its deltas, as before the reader existed.
   */
  read(): void {
    for (const group of this.groups.values()) group.reset();
    const deltas = this.deltas;
    for (const ep of this.meter.registry.endpoints()) {
      const group = this.groupFor(ep);
      group.active += ep.inflight;
      const d = deltas.read(ep);
      if (d.empty) continue;
      const counts = group.counts;
      if (d.count !== 0 || d.detailed !== 0) {
        for (let k = 0; k < STATUS_CLASSES.length; k++) counts[k] += d.classes[STATUS_CLASSES[k]];
        for (let e = 0; e < ERROR_TYPES.length; e++) counts[ERROR_SLOT + e] += d.errors[ERROR_TYPES[e]];
        if (ep.detail !== null) addDetailDeltas(counts, DETAIL_SLOT, d);
        if (this.options.detailed) {
          const codes = (group.codes ??= new Map());
          for (const [code, n] of d.codes) codes.set(code, (codes.get(code) ?? 0) + n);
        }
      }
      if (d.latency.count > 0) {
        d.latency.forEachBucket(group.latencySink);
        group.latencyZeros += d.latency.zeroCount;
      }
      if (d.requestSize.count > 0) {
        d.requestSize.forEachBucket(group.requestSink);
        group.requestSizeZeros += d.requestSize.zeroCount;
      }
      if (d.responseSize.count > 0) {
        d.responseSize.forEachBucket(group.responseSink);
        group.responseSizeZeros += d.responseSize.zeroCount;
      }
    }
    deltas.commit();
  }

  /** Lines for one group. */
  write(group: Group): void {
    const fmt = this.format;
    const sender = this.sender;
    const part = group.part;
    const counts = group.counts;
    if (this.on.count) {
      const head = (p: string) => fmt.head(this.names.count, p);
      if (group.codes !== null) {
        for (const [code, n] of group.codes) {
          if (!(n > 0)) continue;
          const p = fmt.extend(fmt.extend(part, 'status', String(code)), 'status_class', statusClassLabel(code));
          sender.add(fmt.line(head(p), decimal(n), 'c', 1, fmt.tail(p)));
        }
      } else {
        for (let k = 0; k < STATUS_CLASSES.length; k++) {
          if (!(counts[k] > 0)) continue;
          const p = fmt.extend(part, 'status_class', STATUS_CLASSES[k]);
          sender.add(fmt.line(head(p), decimal(counts[k]), 'c', 1, fmt.tail(p)));
        }
      }
    }
    if (this.on.error) {
      for (let e = 0; e < ERROR_TYPES.length; e++) {
        const n = counts[ERROR_SLOT + e];
        if (!(n > 0)) continue;
        const p = fmt.extend(part, 'error_type', ERROR_TYPES[e]);
        sender.add(fmt.line(fmt.head(this.names.error, p), decimal(n), 'c', 1, fmt.tail(p)));
      }
    }
    writeDetailLines(fmt, sender, this.detailNames, this.detailOn, part, counts, DETAIL_SLOT);
    if (this.on.duration) this.writeDistribution(group, 'latency');
    if (this.on.requestSize) this.writeDistribution(group, 'requestSize');
    if (this.on.responseSize) this.writeDistribution(group, 'responseSize');
    if (this.on.active && (group.active !== 0 || group.active !== group.activeSent)) {
      sender.add(fmt.line(fmt.head(this.names.active, part), decimal(group.active), 'g', 1, fmt.tail(part)));
      group.activeSent = group.active;
    }
  }

  private writeDistribution(group: Group, which: Distribution): void {
    const pairs = group[which];
    const zeros =
      which === 'latency'
        ? group.latencyZeros
        : which === 'requestSize'
          ? group.requestSizeZeros
          : group.responseSizeZeros;
    if (pairs.length === 0 && zeros === 0) return;
    const fmt = this.format;
    const mode = this.options.timerMode;
    const latency = which === 'latency';
    const base = latency ? LATENCY_SKETCH.scale : SIZE_SKETCH.scale;
    const scale = mode === 'values' ? base : Math.min(base, this.options.timerScale);
    const key = latency ? 'duration' : which;
    const own = statsdOf(METRICS[key]).type;
    const type = mode === 'distribution' ? 'd' : own === 'h' && this.options.dialect !== 'datadog' ? 'ms' : own;
    const name = this.names[key];
    const head = fmt.head(name, group.part);
    const tail = fmt.tail(group.part);
    // Two endpoints folded into one group may both have sent pairs: merge equal indices.
    const merged = group.members > 1 ? mergePairs(pairs) : pairs;
    const exact = mode === 'values';
    let r = this.sampleRate;
    // values mode past statsd_timer_max_values (`max` lines for `total` values): a systematic sample of
    // the values in ascending order, at ranks 0, step, 2·step, …, total − 1 (step = (total − 1)/(max − 1)),
    // every line with one rate r·max/total. Rank 0 and rank total − 1 are always taken, so the server's
    // lower and upper are the true min and max (within the sketch bound); the rate keeps its count exact
    // and the sample keeps mean and percentiles within one sampled rank. Etsy's daemon adds the values it
    // got without weighting them, so its `sum` is then mean × values received, not the true total
    // (docs/exporters.md, Timers).
    let total = zeros;
    for (let i = 1; i < merged.length; i += 2) total += merged[i];
    const max = this.options.timerMaxValues ?? 1000;
    const capped = exact && max > 0 && total > max;
    if (capped) r *= max / total;
    let seen = 0;
    let sent = 0;
    /** Sample ranks below `s`: #{j ≥ 0 : j·step ≤ s − 1}, in integers. */
    const taken = (s: number) => (s === 0 ? 0 : max === 1 ? 1 : Math.floor(((s - 1) * (max - 1)) / (total - 1)) + 1);
    const write = (value: string, n: number) => {
      if (!exact) {
        this.sender.add(fmt.line(head, value, type, this.rate(n), tail));
        return;
      }
      if (capped) {
        seen += n;
        const upTo = taken(seen);
        n = upTo - sent;
        sent = upTo;
      }
      if (n <= 0) return;
      if (packer !== null) packer.add(value, n);
      else this.sender.addRepeated(fmt.line(head, value, type, r, tail), n);
    };
    // DogStatsD protocol v1.1: one line carries many values (`name:v1:v2:…|d|#tags`), cut at the datagram size.
    const packer =
      exact && this.options.dialect === 'datadog' && this.options.packValues !== false
        ? new ValuePacker(
            this.sender,
            head,
            fmt.line(head, '', type, r, tail).slice(head.length + 1),
            this.options.maxDatagramBytes,
          )
        : null;
    if (zeros > 0) write('0', zeros);
    for (let i = 0; i < merged.length; i += 2) write(this.valueText(scale, merged[i]), merged[i + 1]);
    packer?.end();
  }
}

/**
 * Packs values into `head:v1:v2:…suffix` lines no longer than `maxBytes` (DogStatsD protocol v1.1). Each
 * line counts as as many lines as values it carries, as the unpacked lines would have.
 */
class ValuePacker {
  private line = '';
  private values = 0;

  constructor(
    private readonly sender: DatagramSender,
    private readonly head: string,
    private readonly suffix: string,
    private readonly maxBytes: number,
  ) {}

  add(value: string, n: number): void {
    const piece = `:${value}`;
    for (let i = 0; i < n; i++) {
      if (this.values > 0 && this.head.length + this.line.length + piece.length + this.suffix.length > this.maxBytes) {
        this.end();
      }
      this.line += piece;
      this.values++;
    }
  }

  end(): void {
    if (this.values === 0) return;
    this.sender.add(this.head + this.line + this.suffix, this.values);
    this.line = '';
    this.values = 0;
  }
}

function mergePairs(pairs: readonly number[]): number[] {
  const sums = new Map<number, number>();
  for (let i = 0; i < pairs.length; i += 2) sums.set(pairs[i], (sums.get(pairs[i]) ?? 0) + pairs[i + 1]);
  return [...sums].sort((a, b) => a[0] - b[0]).flat();
}
