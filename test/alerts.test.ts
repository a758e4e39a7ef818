import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ApimeterError, createMeter, ErrorKind, LATENCY_SKETCH, ManualClock, Sketch } from '../src/index.js';
import { apdex } from '../src/core/apdex.js';
import { parseDuration } from '../src/alerts/duration.js';
import { globMatcher } from '../src/alerts/glob.js';
import { compileRules, loadRulesFile, parseRules } from '../src/alerts/rules.js';
import type { RuleDefaults } from '../src/alerts/rules.js';
import { startAlerts } from '../src/alerts/start.js';
import { fileAlertState } from '../src/alerts/state-store.js';
import type { AlertEvent, Notifier } from '../src/alerts/types.js';
import { exactQuantile } from './helpers/datasets.js';

const DEFAULTS: RuleDefaults = {
  defaultRules: false,
  errorRateThreshold: 0.05,
  p95ThresholdMs: 1000,
  authFailureThreshold: 0.2,
  anomalyThreshold: 6,
  anomalyMinRequests: 50,
};
const MIN = 60_000;
const T0 = Date.parse('2025-06-02T10:00:00Z');

function problems(text: string): readonly string[] {
  try {
    parseRules(text, DEFAULTS, 'rules.yaml');
  } catch (error) {
    assert.ok(error instanceof ApimeterError, String(error));
    assert.equal(error.code, 'APIMETER_ERR_ALERT_RULES_INVALID');
    return error.problems;
  }
  assert.fail('expected the rules to be rejected');
}

describe('rules file validation', () => {
  test('a misspelled field names the rule, the field and the likely one', () => {
    const p = problems(
      `rules:\n  - name: Slow\n    signal: latency_p95\n    window: 5m\n    above: 300\n    severty: page\n`,
    );
    assert.equal(p.length, 1);
    assert.match(p[0], /^rule "Slow": unknown field "severty"; did you mean severity\?/);
  });

  test('an unknown signal: the value and the signals expected', () => {
    const p = problems(`rules:\n  - name: X\n    signal: error_ratio\n    window: 5m\n    above: 1\n`);
    assert.equal(p.length, 1);
    assert.match(p[0], /^rule "X": field signal = "error_ratio": expected one of the signals: error_rate_5xx, /);
  });

  test('above and below together, and neither', () => {
    const p = problems(
      `rules:\n  - name: Both\n    signal: request_rate\n    window: 5m\n    above: 1\n    below: 0.5\n` +
        `  - name: Neither\n    signal: request_rate\n    window: 5m\n`,
    );
    assert.deepEqual(p, [
      'rule "Both": fields above/below = above 1 and below 0.5: expected exactly one of above or below',
      'rule "Neither": fields above/below = (neither set): expected exactly one of above or below',
    ]);
  });

  test('negative, too short, too long and unit-less windows', () => {
    for (const w of ['-5m', '30s', '31d', '5', '1.5h']) {
      const p = problems(`rules:\n  - name: W\n    signal: request_rate\n    window: "${w}"\n    above: 1\n`);
      assert.deepEqual(p, [
        `rule "W": field window = "${w}": expected a duration from 1m to 30d, such as 5m, 1h or 7d`,
      ]);
    }
  });

  test('rules without a name are named by position; several problems are all reported', () => {
    const p = problems(
      `rules:\n  - signal: request_rate\n    window: 5m\n    above: 1\n  - name: Y\n    signal: apdex\n    window: 1h\n    below: 0.9\n    severity: urgent\n    min_requests: -1\n`,
    );
    assert.deepEqual(p, [
      'rules[0]: field name = (missing): expected a rule name',
      'rule "Y": field min_requests = -1: expected a whole number of 0 or more',
      'rule "Y": field severity = "urgent": expected page, ticket or info',
    ]);
  });

  test('every unknown field of a rule is listed; lists and scalars are not mappings; empty globs, bad label names, .inf', () => {
    const p = problems(
      `rules:\n  - name: X\n    signal: request_rate\n    window: 5m\n    above: .inf\n    severty: page\n    wndow: 1h\n` +
        `    endpoints: ""\n    labels: { 1team: a, ok: 2 }\n  - [name, X]\n  - 5\n` +
        `slos:\n  - name: s\n    sli: availability\n    objective: 99\n    endpoints: []\n    labels: [a]\n` +
        `apdex:\n  - { endpoints: ["GET /a", ""], t_ms: 10, tms: 1 }\n`,
    );
    assert.deepEqual(p, [
      'rule "X": field endpoints = "": expected a glob over "METHOD /template" (e.g. "* /api/v2/dags/*") or a list of them',
      'rule "X": field above = null: expected a number',
      'rule "X": field labels.1team = "a": expected label names of letters, digits and _ (not starting with a digit)',
      'rule "X": field labels.ok = 2: expected label values that are strings',
      'rule "X": unknown field "severty"; did you mean severity?; known fields: name, endpoints, group, signal, window, above, below, for, keep_firing_for, min_requests, severity, labels, annotations, apdex_t_ms, slo, short_window, baseline',
      'rule "X": unknown field "wndow"; did you mean window?; known fields: name, endpoints, group, signal, window, above, below, for, keep_firing_for, min_requests, severity, labels, annotations, apdex_t_ms, slo, short_window, baseline',
      'rules[1]: field (top level) = ["name","X"]: expected a mapping of rule fields (name:, signal:, window:, …)',
      'rules[2]: field (top level) = 5: expected a mapping of rule fields (name:, signal:, window:, …)',
      'SLO "s": field endpoints = []: expected a glob over "METHOD /template" (e.g. "* /api/v2/dags/*") or a list of them',
      'SLO "s": field labels = ["a"]: expected a map of label names to strings',
      'apdex[0]: field endpoints.1 = "": expected a glob over "METHOD /template" (e.g. "* /api/v2/dags/*") or a list of them',
      'apdex[0]: unknown field "tms"; did you mean t_ms?; known fields: endpoints, t_ms',
    ]);
    assert.deepEqual(problems(`- rules: []\n`), [
      'file: field (top level) = [{"rules":[]}]: expected a YAML mapping with rules:, slos: and/or apdex:',
    ]);
  });

  test('slo_burn_rate needs an SLO of the file; latency SLOs need a threshold', () => {
    const p = problems(
      `slos:\n  - name: avail\n    sli: availability\n    objective: 99.9\n  - name: fast\n    sli: latency\n    objective: 99\n` +
        `rules:\n  - name: Burn\n    signal: slo_burn_rate\n    slo: availabilty\n    window: 1h\n    above: 14.4\n`,
    );
    assert.deepEqual(p, [
      'rule "Burn": field slo = "availabilty": expected the name of an SLO in this file (avail, fast)',
      'SLO "fast": field threshold_ms = (missing): expected a number of milliseconds above 0 (sli latency)',
    ]);
  });

  test('a glob matching no endpoint is fine, and so is an empty file', () => {
    const set = parseRules(
      `rules:\n  - name: Nothing\n    endpoints: "* /no/such/*"\n    signal: request_rate\n    window: 5m\n    above: 1\n`,
      DEFAULTS,
    );
    assert.equal(set.rules.length, 1);
    assert.equal(set.rules[0].matches('GET /api/v2/dags'), false);
    assert.equal(parseRules('', { ...DEFAULTS, defaultRules: true }).rules.length, 4);
  });

  test('YAML syntax errors and unreadable files have their own code', () => {
    assert.throws(() => parseRules('rules: [\n', DEFAULTS), { code: 'APIMETER_ERR_ALERT_RULES_FILE' });
    assert.throws(() => loadRulesFile('/no/such/rules.yaml', DEFAULTS), {
      code: 'APIMETER_ERR_ALERT_RULES_FILE',
      message: /cannot read the alert rules file \/no\/such\/rules\.yaml: ENOENT/,
    });
  });

  test('an invalid rules file stops start-up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'apimeter-rules-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, 'rules:\n  - name: X\n    signal: nope\n    window: 5m\n    above: 1\n');
    const meter = createMeter({ iniPath: false, env: {}, alertsRulesFile: file });
    assert.throws(() => startAlerts(meter, { intervalSeconds: 0 }), { code: 'APIMETER_ERR_ALERT_RULES_INVALID' });
  });

  test('SLOs generate the four SRE-workbook burn-rate rules, windows scaled with the period', () => {
    const set = compileRules(
      {
        slos: [
          { name: 'a', sli: 'availability', objective: 99.9 },
          { name: 'w', sli: 'availability', objective: 99, period: '7d' },
        ],
      },
      DEFAULTS,
    );
    const of = (slo: string) =>
      set.rules
        .filter((r) => r.slo === slo)
        .map((r) => [r.windowMs / MIN, r.shortWindowMs! / MIN, r.threshold, r.severity]);
    assert.deepEqual(of('a'), [
      [60, 5, 14.4, 'page'],
      [360, 30, 6, 'page'],
      [1440, 120, 3, 'ticket'],
      [4320, 360, 1, 'ticket'],
    ]);
    // 7 days is 7/30 of the workbook's period: 1h → 14m, 5m → 1.17m → 1m, 6h → 84m, 3d → 1008m.
    assert.deepEqual(of('w'), [
      [14, 1, 14.4, 'page'],
      [84, 7, 6, 'page'],
      [336, 28, 3, 'ticket'],
      [1008, 84, 1, 'ticket'],
    ]);
  });
});

test('durations and globs', () => {
  assert.equal(parseDuration('1h30m'), 90 * MIN);
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  assert.ok(Number.isNaN(parseDuration('-1m')));
  const m = globMatcher('* /api/v2/dags/*');
  assert.equal(m('GET /api/v2/dags/{dag_id}'), true);
  assert.equal(m('POST /api/v2/dags/{dag_id}/dagRuns'), true);
  assert.equal(m('GET /api/v2/dags'), false);
  assert.equal(globMatcher('/health')('HEAD /health'), true);
  assert.equal(globMatcher('GET /a?')('GET /ab'), true);
  assert.equal(globMatcher('GET /a{b}')('GET /a{b}'), true);
});

/** A notifier recording every batch. */
function recorder(): Notifier & { batches: AlertEvent[][] } {
  const batches: AlertEvent[][] = [];
  return {
    name: 'recorder',
    batches,
    async notify(events) {
      batches.push([...events]);
    },
    health: () => ({ state: 'ok', lastError: null, pending: 0 }),
    async close() {},
  };
}

describe('state machine with an injected clock', () => {
  const RULES = `rules:
  - name: Errors
    endpoints: "GET /a"
    signal: error_rate_5xx
    window: 1m
    above: 0.5
    for: 2m
    keep_firing_for: 3m
    severity: page
    labels: { team: core }
    annotations:
      summary: "{{endpoint}} at {{value}} over {{threshold}}"
`;
  test('inactive → pending → firing → (kept firing) → resolved, with events', async () => {
    const clock = new ManualClock(T0);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const ep = meter.endpoint('GET', '/a')!;
    const notifier = recorder();
    const alerts = startAlerts(meter, {
      rules: parseRules(RULES, DEFAULTS),
      notifiers: [notifier],
      intervalSeconds: 0,
    });
    const tick = async (failing: boolean) => {
      // 10 requests per 10 s slot: all 500 or all 200.
      for (let i = 0; i < 10; i++) meter.record(ep, failing ? 500 : 200, 5, -1, -1, ErrorKind.None);
      await alerts.evaluateNow();
      await alerts.evaluator.settle();
      const inst = alerts.instances()[0];
      return inst?.state ?? 'inactive';
    };
    const states: string[] = [];
    const at: number[] = [];
    const run = async (failing: boolean, steps: number) => {
      for (let i = 0; i < steps; i++) {
        clock.advance(30_000);
        states.push(await tick(failing));
        at.push(clock.now() - T0);
      }
    };
    await run(false, 2); // healthy
    await run(true, 6); // failing for 3 minutes
    await run(false, 10); // healthy again
    // Failing requests at 90 … 240 s, healthy ones at 30, 60 and from 270 s. The 1-minute window holds
    // the last ~6 fine slots: at 90 s it has 10 healthy (60 s) and 10 failing requests, 0.5, not above
    // 0.5; so pending at 120 s, firing at 240 s (for 2m). At 270 s the window is half healthy again, so
    // the condition last held at 240 s and keep_firing_for 3m keeps it firing until 420 s.
    const firstPending = states.indexOf('pending');
    const firstFiring = states.indexOf('firing');
    const firstResolved = states.indexOf('resolved');
    assert.equal(at[firstPending], 120_000);
    assert.equal(at[firstFiring], 240_000);
    assert.equal(at[firstResolved], 420_000);
    assert.deepEqual(states.slice(firstFiring, firstResolved), Array(firstResolved - firstFiring).fill('firing'));
    assert.equal(states[states.length - 1], 'resolved');
    const events = notifier.batches.flat();
    const firing = events.filter((e) => e.state === 'firing');
    const resolved = events.filter((e) => e.state === 'resolved');
    // One event per evaluation while firing (re-sent), one resolved.
    assert.equal(firing.length, firstResolved - firstFiring);
    assert.equal(resolved.length, 1);
    const r = resolved[0];
    assert.equal(r.rule, 'Errors');
    assert.equal(r.endpoint, 'GET /a');
    assert.equal(r.severity, 'page');
    assert.deepEqual(r.labels, {
      team: 'core',
      alertname: 'Errors',
      endpoint: 'GET /a',
      severity: 'page',
      service: 'api',
    });
    assert.equal(r.startsAt.getTime(), T0 + 240_000);
    assert.equal(r.endsAt!.getTime(), T0 + 420_000);
    assert.equal(firing[0].annotations.summary, 'GET /a at 1 over 0.5');
    await alerts.close();
  });

  test('a condition that stops before `for` never fires', async () => {
    const clock = new ManualClock(T0);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const ep = meter.endpoint('GET', '/a')!;
    const notifier = recorder();
    const alerts = startAlerts(meter, {
      rules: parseRules(RULES, DEFAULTS),
      notifiers: [notifier],
      intervalSeconds: 0,
    });
    clock.advance(10_000);
    for (let i = 0; i < 10; i++) meter.record(ep, 500, 5, -1, -1, ErrorKind.None);
    await alerts.evaluateNow();
    assert.equal(alerts.instances()[0].state, 'pending');
    clock.advance(70_000); // the failures left the 1-minute window
    meter.record(ep, 200, 5, -1, -1, ErrorKind.None);
    await alerts.evaluateNow();
    assert.deepEqual(alerts.instances(), []);
    await alerts.evaluator.settle();
    assert.deepEqual(notifier.batches, []);
    await alerts.close();
  });

  test('an evaluation that runs while the last still runs is skipped and counted', async () => {
    const clock = new ManualClock(T0);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const alerts = startAlerts(meter, { rules: parseRules(RULES, DEFAULTS), intervalSeconds: 0 });
    const first = alerts.evaluateNow();
    const second = alerts.evaluateNow();
    await Promise.all([first, second]);
    assert.equal(alerts.stats.evaluations, 1);
    assert.equal(alerts.stats.skipped, 1);
    await alerts.close();
  });
});

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('every signal against an independent count of generated traffic', () => {
  const random = rng(7);
  const clock = new ManualClock(T0);
  const meter = createMeter({ iniPath: false, env: {}, clock, metricsDetailed: true });
  const ep = meter.endpoint('GET', '/gen')!;
  const sent: { status: number; ms: number; bearer: boolean }[] = [];
  for (let i = 0; i < 3000; i++) {
    // Latencies avoid a ±2 % band around the thresholds compared below (500, 2000 ms), where a sketch bucket may straddle.
    let ms = Math.exp(3 + 2.5 * random());
    for (const edge of [500, 2000]) if (Math.abs(ms - edge) / edge < 0.02) ms = edge * 1.05;
    const r = random();
    const status = r < 0.07 ? 503 : r < 0.19 ? 404 : r < 0.22 ? 401 : r < 0.25 ? 429 : 200;
    const bearer = random() < 0.4;
    sent.push({ status, ms, bearer });
    const ctx = meter.openContext((name) => (bearer && name === 'authorization' ? 'Bearer t' : undefined));
    meter.record(ep, status, ms, -1, -1, ErrorKind.None);
    meter.finishContext(ep, ctx, status, ms);
  }
  clock.advance(1000);

  const value = async (signal: string, extra = '') => {
    const rules = parseRules(
      `rules:\n  - name: S\n    signal: ${signal}\n    window: 5m\n    above: 1e12\n    min_requests: 0\n${extra}`,
      DEFAULTS,
    );
    const alerts = startAlerts(meter, { rules, intervalSeconds: 0 });
    const data = await alerts.source.window(5 * MIN, clock.now());
    const row = data.rows.find((r) => r.endpoint === 'GET /gen')!;
    // The evaluator's value for the instance (via a rule that cannot fire: its threshold is huge).
    const values = await (
      alerts.evaluator as unknown as {
        values: (
          r: unknown,
          i: number,
          read: (ms: number) => Promise<unknown>,
          b: null,
        ) => Promise<Map<string, number>>;
      }
    ).values(rules.rules[0], 0, async () => data, null);
    await alerts.close();
    return { value: values.get('GET /gen')!, seconds: data.seconds, row };
  };
  const n = sent.length;
  const share = (f: (s: (typeof sent)[number]) => boolean) => sent.filter(f).length / n;
  const sorted = sent.map((s) => s.ms).sort((a, b) => a - b);

  test('5xx and 4xx rates', async () => {
    assert.equal(
      (await value('error_rate_5xx')).value,
      share((s) => s.status >= 500),
    );
    assert.equal(
      (await value('error_rate_4xx')).value,
      share((s) => s.status >= 400 && s.status < 500),
    );
  });

  test('latency percentiles within the sketch bound of the exact ones', async () => {
    for (const [signal, q] of [
      ['latency_p50', 0.5],
      ['latency_p90', 0.9],
      ['latency_p95', 0.95],
      ['latency_p99', 0.99],
    ] as const) {
      const exact = exactQuantile(sorted, q);
      const got = (await value(signal)).value;
      assert.ok(Math.abs(got - exact) / exact <= 0.011, `${signal}: ${got} vs ${exact}`);
    }
  });

  test('request rate, in-flight, auth failures and rate-limited share', async () => {
    const r = await value('request_rate');
    assert.equal(r.value, n / r.seconds);
    meter.begin(ep);
    meter.begin(ep);
    assert.equal((await value('inflight')).value, 2);
    meter.end(ep);
    meter.end(ep);
    // Detailed mode: an attempt is a request with credentials or a 401/403, a failure a 401/403; a 429 is rate limited.
    const attempts = sent.filter((s) => s.bearer || s.status === 401).length;
    const failures = sent.filter((s) => s.status === 401).length;
    assert.equal((await value('auth_failure_rate')).value, failures / attempts);
    assert.equal(
      (await value('rate_limited_share')).value,
      share((s) => s.status === 429),
    );
  });

  test('Apdex at T = 500 ms and at a per-rule T', async () => {
    const exact = (t: number) =>
      (sent.filter((s) => s.ms <= t).length + sent.filter((s) => s.ms > t && s.ms <= 4 * t).length / 2) / n;
    assert.equal((await value('apdex')).value, exact(500));
    // T = 125 ms: values near 125 and 500 were not kept out of the sketch's straddling buckets, so allow ~1 %.
    const at125 = (await value('apdex', '    apdex_t_ms: 125\n')).value;
    assert.ok(Math.abs(at125 - exact(125)) < 0.01, `${at125} vs ${exact(125)}`);
    assert.notEqual(at125, exact(500));
    assert.ok(Number.isNaN(apdex(new Sketch(LATENCY_SKETCH), 500)));
  });
});

describe('state across restarts', () => {
  test('a firing instance stays firing with its start time; a pending one keeps its `for` progress', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'apimeter-state-')), 'alerts.json');
    const rules = parseRules(
      `rules:\n  - name: Errors\n    signal: error_rate_5xx\n    window: 1m\n    above: 0.5\n    for: 1m\n`,
      DEFAULTS,
    );
    const clock = new ManualClock(T0);
    const run = async (steps: number) => {
      // A fresh meter and evaluator each time: a restarted process.
      const meter = createMeter({ iniPath: false, env: {}, clock });
      const a = meter.endpoint('GET', '/a')!;
      const b = meter.endpoint('GET', '/b')!;
      const alerts = startAlerts(meter, { rules, intervalSeconds: 0, state: fileAlertState(file) });
      for (let i = 0; i < steps; i++) {
        for (let k = 0; k < 5; k++) meter.record(a, 500, 5, -1, -1, ErrorKind.None);
        if (clock.now() >= T0 + 60_000) for (let k = 0; k < 5; k++) meter.record(b, 500, 5, -1, -1, ErrorKind.None);
        await alerts.evaluateNow();
        clock.advance(30_000);
      }
      const states = new Map(alerts.instances().map((x) => [x.endpoint, x]));
      await alerts.close();
      return states;
    };
    const first = await run(4); // /a: pending at 0 s, firing at 60 s; /b: pending at 60 s, evaluated up to 90 s
    assert.equal(first.get('GET /a')!.state, 'firing');
    assert.equal(first.get('GET /a')!.firedAt, T0 + 60_000);
    assert.equal(first.get('GET /b')!.state, 'pending');
    const second = await run(1); // restarted at 120 s
    assert.equal(second.get('GET /a')!.state, 'firing');
    assert.equal(second.get('GET /a')!.firedAt, T0 + 60_000, 'not re-fired after the restart');
    // /b went pending at 60 s: at 120 s its minute has passed, so it fires though this process just started.
    assert.equal(second.get('GET /b')!.state, 'firing');
    assert.equal(second.get('GET /b')!.activeAt, T0 + 60_000);
  });
});

test('a group rule merges its endpoints into one instance named after the group', async () => {
  const clock = new ManualClock(T0);
  const meter = createMeter({ iniPath: false, env: {}, clock });
  const a = meter.endpoint('GET', '/api/a')!;
  const b = meter.endpoint('POST', '/api/b')!;
  const c = meter.endpoint('GET', '/other')!;
  for (let i = 0; i < 30; i++) meter.record(a, i < 3 ? 500 : 200, 5, -1, -1, ErrorKind.None); // 3 of 30
  for (let i = 0; i < 10; i++) meter.record(b, i < 5 ? 502 : 200, 5, -1, -1, ErrorKind.None); // 5 of 10
  for (let i = 0; i < 10; i++) meter.record(c, 500, 5, -1, -1, ErrorKind.None); // not in the group
  const rules = parseRules(
    `rules:\n  - name: ApiErrors\n    endpoints: "* /api/*"\n    group: api\n    signal: error_rate_5xx\n    window: 5m\n    above: 0.1\n`,
    DEFAULTS,
  );
  const alerts = startAlerts(meter, { rules, intervalSeconds: 0 });
  await alerts.evaluateNow();
  const list = alerts.instances();
  assert.equal(list.length, 1);
  assert.equal(list[0].endpoint, 'api');
  assert.equal(list[0].value, 8 / 40);
  assert.equal(list[0].state, 'firing');
  await alerts.close();
});
