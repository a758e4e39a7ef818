import type { HistorySource } from '../api/history.js';
import type { Clock } from '../core/clock.js';
import type { Meter } from '../core/meter.js';
import { attachAlerts, detachAlerts } from './attach.js';
import { AlertEvaluator } from './evaluator.js';
import type { EvaluatorStats } from './evaluator.js';
import { burnDown, evaluateSlo } from './slo.js';
import type { BurnDownPoint, SloStatus } from './slo.js';
import { compileRules, loadRulesFile, ruleDefaultsOf } from './rules.js';
import type { AlertRule, RuleSet } from './rules.js';
import { MeterSource } from './source.js';
import type { AlertInstance } from './state.js';
import type { Notifier } from './types.js';
import type { AlertStateStore } from './state-store.js';

export interface StartAlertsOptions {
  /** Persisted history (the store's): windows over an hour, SLO periods, anomaly baselines. */
  history?: HistorySource | null;
  notifiers?: readonly Notifier[];
  /** Rules file to read instead of `[alerts] rules_file`. */
  rulesFile?: string;
  /** An already compiled rule set (tests, generated rules); wins over any file. */
  rules?: RuleSet;
  /** Default: the meter's clock. */
  clock?: Clock;
  /** Seconds between evaluations; default `[alerts] evaluation_interval`. 0 = no timer (call evaluateNow). */
  intervalSeconds?: number;
  /** Failures of an evaluation or a notifier. Default: none (they are counted in `stats`). */
  onError?: (error: unknown) => void;
  /** Keeps instances across restarts, e.g. `fileAlertState('./data/apimeter-alerts.json')`. Default: none. */
  state?: AlertStateStore;
}

/** What the API, the Prometheus exposition and the application see of running alerts. */
export interface Alerts {
  readonly rules: RuleSet;
  readonly evaluator: AlertEvaluator;
  readonly source: MeterSource;
  readonly stats: Readonly<EvaluatorStats>;
  /** Pending, firing and recently resolved instances. */
  instances(): AlertInstance[];
  /** The same, each with its rule. */
  instancesWithRules(): { rule: AlertRule; instance: AlertInstance }[];
  /** Latest SLO statuses (from the last evaluation). */
  slos(): readonly SloStatus[];
  /** One SLO now, or over a past range (retroactive), with its burn-down. Null for an unknown name. */
  slo(
    name: string,
    range?: { from: number; to: number },
  ): Promise<{ status: SloStatus; burnDown: BurnDownPoint[] } | null>;
  /** Runs one evaluation now (skipped, and counted, when one is running). */
  evaluateNow(): Promise<void>;
  /** Stops the timer, waits for the running evaluation and deliveries, closes the notifiers. */
  close(): Promise<void>;
}

export { alertsOf } from './attach.js';

/**
 * Starts evaluating alert rules and SLOs for `meter` every `[alerts] evaluation_interval` seconds, on an
 * unref'd timer, never on the request path. The rules file (`[alerts] rules_file`) is read and validated
 * now: an invalid file throws `APIMETER_ERR_ALERT_RULES_INVALID`. With `[alerts] enabled = false` nothing
 * is evaluated (the handle still answers, with no rules).
 *
 * @example
 * const persistence = await startPersistence(meter);
 * const alerts = startAlerts(meter, { history: persistence?.history, notifiers: [logNotifier()] });
 * // on shutdown:
 * await alerts.close();
 */
export function startAlerts(meter: Meter, options: StartAlertsOptions = {}): Alerts {
  const c = meter.config;
  const defaults = ruleDefaultsOf(c);
  const file = options.rulesFile ?? c.alertsRulesFile;
  const rules = !c.alertsEnabled
    ? compileRules({}, { ...defaults, defaultRules: false })
    : (options.rules ?? (file === '' ? compileRules({}, defaults) : loadRulesFile(file, defaults)));
  const source = new MeterSource(meter, options.history ?? null);
  const clock = options.clock ?? meter.clock;
  const evaluator = new AlertEvaluator({
    source,
    rules,
    notifiers: options.notifiers,
    clock,
    apdexTMs: c.alertsApdexTMs,
    service: c.alertsService,
    onError: options.onError,
    state: options.state,
  });
  const seconds = options.intervalSeconds ?? c.alertsEvaluationInterval;
  let timer: ReturnType<typeof setInterval> | null = null;
  if (c.alertsEnabled && seconds > 0) {
    timer = setInterval(() => void evaluator.evaluate(), seconds * 1000);
    (timer as { unref?: () => void }).unref?.();
  }
  // /health: the evaluator (failing when its last evaluation failed) and every notifier as it reports itself.
  const unregister = [
    meter.addHealthSource('alerts', () => ({
      name: 'alerts',
      state: !c.alertsEnabled
        ? 'off'
        : evaluator.stats.lastError !== null && evaluator.stats.failures > 0
          ? 'degraded'
          : 'ok',
      ...(evaluator.stats.lastError === null ? {} : { lastError: evaluator.stats.lastError }),
      counters: {
        rules: rules.rules.length,
        slos: rules.slos.length,
        evaluations: evaluator.stats.evaluations,
        skipped: evaluator.stats.skipped,
        failures: evaluator.stats.failures,
        firing: evaluator.instances().filter((x) => x.instance.state === 'firing').length,
      },
    })),
    ...(options.notifiers ?? []).map((n) =>
      meter.addHealthSource(`notifier:${n.name}`, () => {
        const h = n.health();
        return {
          name: `notifier:${n.name}`,
          state: h.state,
          ...(h.lastError === null ? {} : { lastError: h.lastError }),
          counters: { pending: h.pending },
        };
      }),
    ),
  ];
  let closing: Promise<void> | null = null;
  const alerts: Alerts = {
    rules,
    evaluator,
    source,
    stats: evaluator.stats,
    instances: () => evaluator.instances().map((x) => x.instance),
    instancesWithRules: () => evaluator.instances(),
    slos: () => evaluator.sloStatuses,
    async slo(name, range) {
      const def = rules.slos.find((s) => s.name === name);
      if (def === undefined) return null;
      const now = clock.now();
      const from = range?.from ?? now - def.periodMs;
      const to = range?.to ?? now;
      const status = await evaluateSlo(def, source, now, range);
      return { status, burnDown: await burnDown(def, source, from, to, now) };
    },
    async evaluateNow() {
      await evaluator.evaluate();
    },
    close() {
      closing ??= (async () => {
        if (timer !== null) clearInterval(timer);
        detachAlerts(meter, alerts);
        for (const off of unregister) off();
        await evaluator.settle();
        await Promise.all((options.notifiers ?? []).map((n) => n.close().catch(() => undefined)));
      })();
      return closing;
    },
  };
  attachAlerts(meter, alerts);
  return alerts;
}
