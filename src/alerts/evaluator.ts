import type { Clock } from '../core/clock.js';
import { Tally } from '../core/tally.js';
import { BaselineCache, p95Anomaly, rateAnomaly } from './anomaly.js';
import type { Baseline } from './anomaly.js';
import type { AlertRule, RuleSet } from './rules.js';
import { burnRate, evaluateSlo, sloCounts, sloTally } from './slo.js';
import type { SloStatus } from './slo.js';
import type { SloDefinition } from './slo-types.js';
import { tallySignal } from './signals.js';
import type { TallySignal } from './signals.js';
import type { MeterSource, WindowData, WindowReader } from './source.js';
import { newInstance, RESOLVED_RETENTION_MS, step } from './state.js';
import type { AlertInstance } from './state.js';
import type { AlertEvent, Notifier } from './types.js';
import type { AlertStateStore } from './state-store.js';

export interface EvaluatorOptions {
  source: MeterSource;
  rules: RuleSet;
  notifiers?: readonly Notifier[];
  /** Default: the meter's clock. */
  clock?: Clock;
  /** Apdex T for endpoints without their own (ms). */
  apdexTMs: number;
  /** The `service` label of events. */
  service: string;
  /** Failures of an evaluation (a history store that fails, a bug); the evaluator carries on. */
  onError?: (error: unknown) => void;
  /** Instances saved across restarts: loaded before the first evaluation, saved after each. */
  state?: AlertStateStore;
}

export interface EvaluatorStats {
  evaluations: number;
  /** Ticks skipped because the previous evaluation still ran. */
  skipped: number;
  failures: number;
  lastDurationMs: number;
  lastEvaluatedAt: number;
  lastError: string | null;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4)));
}

function fill(text: string, inst: AlertInstance): string {
  return text
    .replaceAll('{{value}}', fmt(inst.value))
    .replaceAll('{{threshold}}', fmt(inst.threshold))
    .replaceAll('{{endpoint}}', inst.endpoint);
}

/**
 * Evaluates the rules and SLOs against the meter (through {@link MeterSource}) and keeps one state
 * machine per rule and endpoint. Each {@link evaluate} reads every window once, steps every instance,
 * then hands the changed and still-firing instances to the notifiers without waiting for them.
 */
export class AlertEvaluator {
  readonly rules: readonly AlertRule[];
  readonly slos: readonly SloDefinition[];
  /** Per rule (same index as {@link rules}): instances by endpoint or group. */
  readonly byRule: Map<string, AlertInstance>[];
  /** Latest status of each SLO (from the last evaluation), in rules-file order. */
  sloStatuses: SloStatus[] = [];
  readonly stats: EvaluatorStats = {
    evaluations: 0,
    skipped: 0,
    failures: 0,
    lastDurationMs: 0,
    lastEvaluatedAt: 0,
    lastError: null,
  };
  private readonly source: MeterSource;
  private readonly clock: Clock;
  private readonly ruleSet: RuleSet;
  private readonly notifiers: readonly Notifier[];
  private readonly baseline: BaselineCache;
  private readonly matchCache: Map<string, boolean>[];
  private readonly apdexCache = new Map<string, number>();
  private readonly deliveries = new Set<Promise<void>>();
  private running: Promise<AlertEvent[]> | null = null;
  private restored = false;

  constructor(private readonly options: EvaluatorOptions) {
    this.source = options.source;
    this.clock = options.clock ?? options.source.meter.clock;
    this.ruleSet = options.rules;
    this.rules = options.rules.rules;
    this.slos = options.rules.slos;
    this.notifiers = options.notifiers ?? [];
    this.baseline = new BaselineCache(this.source);
    this.matchCache = this.rules.map(() => new Map());
    this.byRule = this.rules.map(() => new Map());
  }

  /** Every pending, firing and recently resolved instance with its rule. */
  instances(): { rule: AlertRule; instance: AlertInstance }[] {
    const out: { rule: AlertRule; instance: AlertInstance }[] = [];
    this.byRule.forEach((m, i) => {
      for (const instance of m.values()) out.push({ rule: this.rules[i], instance });
    });
    return out;
  }

  /** Apdex T (ms) of an endpoint: the first `apdex:` target matching it, else `[alerts] apdex_t_ms`. */
  apdexT(endpoint: string): number {
    let t = this.apdexCache.get(endpoint);
    if (t === undefined) {
      t = this.ruleSet.apdex.find((a) => a.matches(endpoint))?.tMs ?? this.options.apdexTMs;
      if (this.apdexCache.size < 10_000) this.apdexCache.set(endpoint, t);
    }
    return t;
  }

  /**
   * One evaluation at the clock's now. While one runs, another call is a skipped tick (counted) and
   * resolves an empty list. Never rejects: failures are counted and go to `onError`.
   */
  evaluate(): Promise<AlertEvent[]> {
    if (this.running !== null) {
      this.stats.skipped++;
      return Promise.resolve([]);
    }
    const started = performance.now();
    this.running = this.run()
      .catch((error: unknown) => {
        this.stats.failures++;
        this.stats.lastError = error instanceof Error ? error.message : String(error);
        this.options.onError?.(error);
        return [] as AlertEvent[];
      })
      .finally(() => {
        this.stats.lastDurationMs = performance.now() - started;
        this.running = null;
      });
    return this.running;
  }

  /** Takes back instances a previous run saved (rules that no longer exist are dropped). */
  async restore(): Promise<number> {
    const saved = await this.options.state?.load();
    this.restored = true;
    if (saved == null) return 0;
    let n = 0;
    for (const s of saved.instances) {
      const i = this.rules.findIndex((r) => r.name === s.rule && (r.group === null || r.group === s.endpoint));
      if (i === -1 || (s.state !== 'pending' && s.state !== 'firing' && s.state !== 'resolved')) continue;
      // Restored late (the store was not readable at first): a saved pending or firing instance is the
      // older truth and replaces what was evaluated meanwhile; a saved resolved one does not.
      if (s.state === 'resolved' && this.byRule[i].has(s.endpoint)) continue;
      const inst = newInstance(this.rules[i], s.endpoint, s.since);
      Object.assign(inst, {
        state: s.state,
        since: s.since,
        activeAt: s.activeAt,
        firedAt: s.firedAt,
        resolvedAt: s.resolvedAt,
        lastTrueAt: s.lastTrueAt,
        value: s.value ?? NaN,
      });
      this.byRule[i].set(s.endpoint, inst);
      n++;
    }
    return n;
  }

  private async run(): Promise<AlertEvent[]> {
    if (!this.restored) {
      try {
        await this.restore();
      } catch (error) {
        // A store not connected yet: evaluate without the saved state, try again next time.
        this.options.onError?.(error);
      }
    }
    const now = this.clock.now();
    const reads = new Map<number, Promise<WindowData>>();
    const read = (ms: number) => {
      let r = reads.get(ms);
      // Scratch reads: the tick's window tallies are reused from tick to tick (read only within it).
      if (r === undefined) reads.set(ms, (r = this.source.window(ms, now, true)));
      return r;
    };
    const memo: WindowReader = {
      window: (ms: number) => read(ms),
      range: (a, b, n) => this.source.range(a, b, n),
      // Nested windows read together, and remembered for the rules of this tick.
      windows: async (list: readonly number[]) => {
        const missing = list.filter((ms) => !reads.has(ms));
        if (missing.length > 0) {
          const got = await this.source.windows(missing, now, true);
          for (const [ms, data] of got) reads.set(ms, Promise.resolve(data));
        }
        const out = new Map<number, WindowData>();
        for (const ms of list) out.set(ms, await read(ms));
        return out;
      },
    };
    const statuses: SloStatus[] = [];
    for (const slo of this.slos) statuses.push(await evaluateSlo(slo, memo, now));
    this.sloStatuses = statuses;
    const needsBaseline = this.rules.some((r) => r.signal === 'traffic_anomaly');
    const baseline = needsBaseline ? await this.baseline.at(now) : null;

    const events: AlertEvent[] = [];
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i];
      const values = await this.values(rule, i, read, baseline);
      const instances = this.byRule[i];
      for (const [endpoint, value] of values) {
        let inst = instances.get(endpoint);
        if (inst === undefined) {
          if (value === null) continue;
          inst = newInstance(rule, endpoint, now);
        }
        const change = step(inst, rule, value, now);
        if (inst.state === 'inactive') instances.delete(endpoint);
        else instances.set(endpoint, inst);
        if (change === 'firing' || change === 'resolved' || (change === 'none' && inst.state === 'firing')) {
          events.push(this.event(rule, inst));
        }
      }
      // Instances whose endpoint had no value this time (gone from the window): nothing to judge.
      for (const [endpoint, inst] of instances) {
        if (values.has(endpoint)) continue;
        const change = step(inst, rule, null, now);
        if (inst.state === 'inactive') instances.delete(endpoint);
        if (change === 'resolved' || (change === 'none' && inst.state === 'firing'))
          events.push(this.event(rule, inst));
      }
    }
    for (const instances of this.byRule) {
      for (const [k, inst] of instances) {
        if (inst.state === 'resolved' && now - inst.resolvedAt >= RESOLVED_RETENTION_MS) instances.delete(k);
      }
    }
    this.stats.evaluations++;
    this.stats.lastEvaluatedAt = now;
    if (events.length > 0) this.deliver(events);
    if (this.options.state !== undefined && this.restored) {
      // Not before the saved state was read: that would overwrite it with a fresh start.
      const instances = this.instances().map((x) => ({ ...x.instance }));
      try {
        await this.options.state.save({ version: 1, savedAt: now, instances });
      } catch (error) {
        this.options.onError?.(error);
      }
    }
    return events;
  }

  private matches(ruleIndex: number, endpoint: string): boolean {
    const cache = this.matchCache[ruleIndex];
    let m = cache.get(endpoint);
    if (m === undefined) {
      m = this.rules[ruleIndex].matches(endpoint);
      if (cache.size < 100_000) cache.set(endpoint, m);
    }
    return m;
  }

  /** Value per instance (endpoint or group) of one rule; null = nothing to judge. */
  private async values(
    rule: AlertRule,
    index: number,
    read: (ms: number) => Promise<WindowData>,
    baseline: Baseline | null,
  ): Promise<Map<string, number | null>> {
    const out = new Map<string, number | null>();
    if (rule.signal === 'slo_burn_rate') {
      const slo = this.slos.find((s) => s.name === rule.slo)!;
      const long = sloCounts(slo, sloTally(slo, await read(rule.windowMs)));
      if (long.total < Math.max(rule.minRequests, 1)) {
        out.set(rule.group!, null);
        return out;
      }
      let value = burnRate(slo, long)!;
      if (rule.shortWindowMs !== null) {
        const short = burnRate(slo, sloCounts(slo, sloTally(slo, await read(rule.shortWindowMs))));
        value = short === null ? NaN : Math.min(value, short);
      }
      out.set(rule.group!, value);
      return out;
    }
    const data = await read(rule.windowMs);
    if (rule.signal === 'traffic_anomaly') {
      if (baseline === null) return out;
      const seen = new Set<string>();
      const judge = (endpoint: string, t: Tally | null) => {
        const count = t?.count ?? 0;
        const value =
          rule.baseline === 'request_rate'
            ? rateAnomaly(baseline.rates.get(endpoint), baseline.days, count, data.seconds, rule.minRequests)
            : t === null || t.latency.count === 0
              ? null
              : p95Anomaly(baseline.p95s.get(endpoint), t.latency.quantile(0.95), count, rule.minRequests);
        out.set(endpoint, value);
      };
      for (const row of data.rows) {
        if (!this.matches(index, row.endpoint)) continue;
        seen.add(row.endpoint);
        judge(row.endpoint, row.tally);
      }
      // Endpoints the baseline knows that did not record since start-up: silent ones show up here.
      for (const endpoint of baseline.rates.keys())
        if (!seen.has(endpoint) && this.matches(index, endpoint)) judge(endpoint, null);
      return out;
    }
    const signal: TallySignal = rule.signal;
    if (rule.group !== null) {
      const merged = new Tally();
      let inflight = 0;
      for (const row of data.rows) {
        if (!this.matches(index, row.endpoint)) continue;
        merged.merge(row.tally);
        inflight += row.inflight;
      }
      const t = rule.apdexTMs ?? this.options.apdexTMs;
      out.set(
        rule.group,
        merged.count < rule.minRequests ? null : tallySignal(signal, merged, data.seconds, inflight, t),
      );
      return out;
    }
    for (const row of data.rows) {
      if (!this.matches(index, row.endpoint)) continue;
      if (row.tally.count < rule.minRequests) {
        out.set(row.endpoint, null);
        continue;
      }
      const t = rule.apdexTMs ?? this.apdexT(row.endpoint);
      out.set(row.endpoint, tallySignal(signal, row.tally, data.seconds, row.inflight, t));
    }
    return out;
  }

  /** The notifiers' view of an instance. */
  event(rule: AlertRule, inst: AlertInstance): AlertEvent {
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(rule.annotations)) annotations[k] = fill(v, inst);
    return {
      rule: rule.name,
      endpoint: inst.endpoint,
      state: inst.state === 'resolved' ? 'resolved' : 'firing',
      severity: rule.severity,
      labels: {
        ...rule.labels,
        alertname: rule.name,
        endpoint: inst.endpoint,
        severity: rule.severity,
        service: this.options.service,
      },
      annotations,
      value: inst.value,
      threshold: inst.threshold,
      startsAt: new Date(inst.firedAt || inst.activeAt),
      ...(inst.state === 'resolved' ? { endsAt: new Date(inst.resolvedAt) } : {}),
    };
  }

  private deliver(events: readonly AlertEvent[]): void {
    for (const n of this.notifiers) {
      // Notifiers never reject by contract; a broken one must still not reach the evaluator.
      const p: Promise<void> = Promise.resolve()
        .then(() => n.notify(events))
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => this.deliveries.delete(p));
      this.deliveries.add(p);
    }
  }

  /** Waits for the running evaluation and deliveries in flight. */
  async settle(): Promise<void> {
    if (this.running !== null) await this.running;
    await Promise.all([...this.deliveries]);
  }
}
