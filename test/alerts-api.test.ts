import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createMeter, ErrorKind, ManualClock } from '../src/index.js';
import { compileRules } from '../src/alerts/rules.js';
import type { RuleDefaults } from '../src/alerts/rules.js';
import { startAlerts } from '../src/alerts/start.js';
import type { Alerts } from '../src/alerts/start.js';
import { get, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';

const P = '/api/v2/metrics';
const NOW = Date.parse('2025-06-02T10:00:30Z');
const DEFAULTS: RuleDefaults = {
  defaultRules: false,
  errorRateThreshold: 0.05,
  p95ThresholdMs: 1000,
  authFailureThreshold: 0.2,
  anomalyThreshold: 6,
  anomalyMinRequests: 50,
};

type Json = Record<string, unknown>;

describe('alert and SLO routes, OpenAPI and Prometheus', () => {
  let served: Served;
  let alerts: Alerts;
  const clock = new ManualClock(NOW - 60_000);
  const meter = createMeter({ iniPath: false, env: {}, clock });
  let sent500 = 0;
  let sent = 0;

  before(async () => {
    const a = meter.endpoint('GET', '/a')!;
    const b = meter.endpoint('GET', '/b')!;
    for (const at of [NOW - 60_000, NOW - 30_000, NOW]) {
      clock.set(at);
      for (let i = 0; i < 20; i++) {
        const status = i % 4 === 0 ? 500 : 200;
        meter.record(a, status, 10, -1, -1, ErrorKind.None);
        meter.record(b, 200, 10, -1, -1, ErrorKind.None);
        sent += 2;
        if (status === 500) sent500++;
      }
    }
    const rules = compileRules(
      {
        rules: [
          {
            name: 'Errors',
            signal: 'error_rate_5xx',
            window: '5m',
            above: 0.1,
            severity: 'page',
            annotations: { summary: '{{endpoint}} {{value}}' },
          },
        ],
        slos: [{ name: 'avail', sli: 'availability', objective: 99, period: '1d' }],
      },
      DEFAULTS,
    );
    alerts = startAlerts(meter, { rules, intervalSeconds: 0 });
    await alerts.evaluateNow();
    served = await serveApi({ meter, cacheSeconds: 0, openPrometheus: true });
  });
  after(async () => {
    await alerts.close();
    await served.close();
  });

  async function validated(path: string, url: string): Promise<Json> {
    const doc = (await get<Json>(`${served.base}${P}/openapi.json`)).json;
    const op = (doc.paths as Json)[path] as {
      get: { responses: Record<string, { content: Record<string, { schema: Json }> }> };
    };
    assert.ok(op, `${path} in the OpenAPI document`);
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/);
    ajv.addSchema({ $id: 'urn:apimeter:doc', components: doc.components });
    const schema = JSON.parse(
      JSON.stringify(op.get.responses['200'].content['application/json'].schema).replaceAll(
        '#/components',
        'urn:apimeter:doc#/components',
      ),
    ) as Json;
    const res = await get<Json>(url);
    assert.equal(res.status, 200, res.text);
    const validate = ajv.compile(schema);
    assert.ok(validate(res.json), ajv.errorsText(validate.errors));
    return res.json;
  }

  test('GET /alerts: the firing instance with its value, against the requests sent', async () => {
    const body = await validated(`${P}/alerts`, `${served.base}${P}/alerts`);
    const list = body.alerts as Json[];
    const errors = list.filter((x) => x.rule === 'Errors');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].endpoint, 'GET /a');
    assert.equal(errors[0].state, 'firing');
    assert.equal(errors[0].value, sent500 / (sent / 2));
    assert.equal((await get<Json>(`${served.base}${P}/alerts?state=pending`)).json.alerts instanceof Array, true);
    const bad = await get<Json>(`${served.base}${P}/alerts?state=burning`);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.parameter, 'state');
  });

  test('GET /alerts/rules lists file and SLO-generated rules', async () => {
    const body = await validated(`${P}/alerts/rules`, `${served.base}${P}/alerts/rules`);
    const names = (body.rules as Json[]).map((r) => r.name);
    assert.deepEqual(names, [
      'Errors',
      'ErrorBudgetBurn14x',
      'ErrorBudgetBurn6x',
      'ErrorBudgetBurn3x',
      'ErrorBudgetBurn1x',
    ]);
    assert.equal((body.rules as Json[])[0].instances, 1);
  });

  test('GET /slo and /slo/{name} with a burn-down; unknown SLO is 404', async () => {
    const list = await validated(`${P}/slo`, `${served.base}${P}/slo`);
    const slo = (list.slos as Json[])[0];
    assert.equal(slo.name, 'avail');
    assert.equal(slo.total, sent);
    assert.equal(slo.bad, sent500);
    const detail = await validated(`${P}/slo/{name}`, `${served.base}${P}/slo/avail`);
    const points = detail.burn_down as Json[];
    assert.equal(points.length, 30);
    assert.equal(
      points.reduce((s, p) => s + (p.total as number), 0),
      sent,
    );
    const missing = await get<Json>(`${served.base}${P}/slo/nope`);
    assert.equal(missing.status, 404);
    assert.match(missing.json.detail as string, /SLOs: avail/);
  });

  test('Prometheus: alert state and SLO gauges', async () => {
    const text = (await get(`${served.base}/metrics`)).text;
    assert.ok(
      text.includes('apimeter_alert_state{alertname="Errors",endpoint="GET /a",severity="page",state="firing"} 1'),
      text,
    );
    assert.ok(text.includes('apimeter_slo_objective_ratio{slo="avail"} 0.99'));
    const remaining = /apimeter_slo_error_budget_remaining_ratio\{slo="avail"\} (\S+)/.exec(text);
    assert.ok(remaining);
    assert.ok(Math.abs(Number(remaining[1]) - (1 - sent500 / (sent * 0.01))) < 1e-9);
    assert.match(text, /apimeter_slo_burn_rate\{slo="avail",window="2m"\} /);
  });

  test('/health lists the evaluator with its counters', async () => {
    const res = await get<{ components: { name: string; state: string; counters?: Record<string, number> }[] }>(
      `${served.base}${P}/health`,
    );
    const c = res.json.components.find((x) => x.name === 'alerts');
    assert.ok(c, JSON.stringify(res.json.components));
    assert.equal(c.state, 'ok');
    assert.equal(c.counters!.rules, 5);
    assert.equal(c.counters!.firing, alerts.instances().filter((i) => i.state === 'firing').length);
    assert.ok(c.counters!.firing >= 1);
  });

  test('without startAlerts the routes answer 404 saying how to start them', async () => {
    const other = await serveApi({ meter: createMeter({ iniPath: false, env: {} }), cacheSeconds: 0 });
    try {
      const res = await get<Json>(`${other.base}${P}/alerts`);
      assert.equal(res.status, 404);
      assert.match(res.json.detail as string, /startAlerts/);
    } finally {
      await other.close();
    }
  });
});
