/**
 * The generated artifacts against a real Prometheus 2 scraping two apimeter apps (otel naming with
 * detailed mode, legacy naming without): the generated rules load, the generated alerts fire after
 * induced 5xx traffic, and every panel query of every generated Grafana dashboard parses (lezer-promql)
 * and returns data; every template variable resolves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parser } from '@prometheus-io/lezer-promql';
import { parseRules, ruleDefaultsOf } from '../src/alerts/rules.js';
import { loadConfig } from '../src/core/config.js';
import { CATALOGUE, METRIC_KEYS } from '../src/exporters/catalogue.js';
import type { PrometheusPreset } from '../src/exporters/catalogue.js';
import { grafanaDashboards } from '../src/artifacts/grafana.js';
import { prometheusRulesYaml } from '../src/artifacts/prometheus-rules.js';
import { PROMETHEUS_SKIP, startPrometheus, startTestApp } from './helpers/artifacts.js';
import type { RunningPrometheus, TestApp } from './helpers/artifacts.js';

/** Short windows and no `for`, so the alerts fire within seconds; an SLO over 1 h scales its burn windows to minutes. */
const RULES = `
rules:
  - name: TestFailing5xx
    endpoints: "GET /fail"
    signal: error_rate_5xx
    window: 1m
    above: 0.5
    min_requests: 3
    severity: page
    annotations:
      summary: "{{endpoint}} answers 5xx: {{value}}"
  # A glob over the {id} template: the legacy app writes the route /items/:id, which its rules must match.
  - name: TestItemsTraffic
    endpoints: "GET /items/{id}"
    signal: request_rate
    window: 1m
    above: 0
    severity: ticket
slos:
  - name: availability
    sli: availability
    objective: 99
    period: 1h
  - name: items-latency
    endpoints: "* /items*"
    sli: latency
    objective: 95
    threshold_ms: 250
    period: 1h
  # 75 ms is a bound of the otel preset's buckets, not of prom-client's (legacy): there it is read at 50 ms.
  - name: items-fast
    endpoints: "GET /items/{id}"
    sli: latency
    objective: 90
    threshold_ms: 75
    period: 1h
`;

const defaults = ruleDefaultsOf(loadConfig({ iniPath: false, env: {} }));
const ruleSet = parseRules(RULES, defaults, 'test rules');

interface Target {
  expr: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string }; multi?: boolean }[] };
}

function panelsOf(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
}

/** Parse errors of a PromQL expression, as lezer-promql finds them. */
function parseErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter(n) {
      if (n.type.isError) errors.push(`error at ${n.from}: '${expr.slice(Math.max(0, n.from - 10), n.to + 10)}'`);
    },
  });
  return errors;
}

/** Names of detailed-mode metrics (from the catalogue), to tell which panels need detailed mode. */
function detailedNames(preset: PrometheusPreset): string[] {
  return METRIC_KEYS.filter((k) => CATALOGUE[k].detailed && CATALOGUE[k].prometheus !== null).map(
    (k) => CATALOGUE[k].prometheus.names[preset],
  );
}

describe('generated rules and dashboards against a real Prometheus', { skip: PROMETHEUS_SKIP }, () => {
  let detailedApp: TestApp;
  let legacyApp: TestApp;
  let prom: RunningPrometheus;
  let traffic: Promise<void>;
  let stopTraffic = false;

  before(async () => {
    detailedApp = await startTestApp({ metricsDetailed: true, prometheusNaming: 'otel' });
    legacyApp = await startTestApp({ prometheusNaming: 'legacy' });
    prom = await startPrometheus(
      { detailed: detailedApp.host, legacy: legacyApp.host },
      {
        rules: {
          'otel.rules.yml': prometheusRulesYaml(ruleSet, { naming: 'otel', service: 'otel-app' }),
          'legacy.rules.yml': prometheusRulesYaml(ruleSet, { naming: 'legacy', service: 'legacy-app' }),
        },
      },
    );
    // Steady traffic with 5xx until the tests end, so rate() over every window sees increases.
    traffic = (async () => {
      while (!stopTraffic) {
        await Promise.all([detailedApp.round(3), legacyApp.round(3)]);
        await sleep(100);
      }
    })();
  });

  after(async () => {
    stopTraffic = true;
    await traffic;
    await prom?.stop();
    await detailedApp?.close();
    await legacyApp?.close();
  });

  test('the rule files load and the generated alerts fire after 5xx traffic', async (t) => {
    const groups = await prom.api<{ groups: { name: string; file: string; rules: { health: string }[] }[] }>(
      '/api/v1/rules',
    );
    assert.ok(groups.groups.length >= 8, `rule groups loaded: ${groups.groups.map((g) => g.name).join(', ')}`);
    type Alert = { labels: Record<string, string>; annotations: Record<string, string>; state: string };
    const wanted = (alerts: Alert[]) =>
      ['otel-app', 'legacy-app'].every(
        (service) =>
          alerts.some(
            (a) => a.state === 'firing' && a.labels.alertname === 'TestFailing5xx' && a.labels.service === service,
          ) &&
          alerts.some(
            (a) => a.state === 'firing' && a.labels.alertname === 'TestItemsTraffic' && a.labels.service === service,
          ) &&
          alerts.some(
            (a) =>
              a.state === 'firing' &&
              a.labels.alertname === 'ErrorBudgetBurn14x' &&
              a.labels.service === service &&
              a.labels.slo === 'availability',
          ),
      );
    const deadline = Date.now() + 45_000;
    let alerts: Alert[] = [];
    while (Date.now() < deadline) {
      alerts = (await prom.api<{ alerts: Alert[] }>('/api/v1/alerts')).alerts;
      if (wanted(alerts)) break;
      await sleep(500);
    }
    assert.ok(
      wanted(alerts),
      `alerts: ${JSON.stringify(alerts.map((a) => [a.labels.alertname, a.labels.service, a.state]))}\n${prom.log().slice(-2000)}`,
    );
    const failing = alerts.find((a) => a.labels.alertname === 'TestFailing5xx' && a.labels.service === 'otel-app')!;
    assert.equal(failing.labels.route, '/fail');
    // 3 of the 8 requests of a round hit /fail, all of them 500: its 5xx share is 1.
    assert.equal(failing.annotations.summary, 'GET /fail answers 5xx: 1');
    const items = alerts.find((a) => a.labels.alertname === 'TestItemsTraffic' && a.labels.service === 'legacy-app')!;
    assert.equal(items.labels.route, '/items/:id');
    // The latency SLI over a bound each preset's exposition has (le="0.075" for otel, "0.05" for legacy).
    for (const service of ['otel-app', 'legacy-app']) {
      await prom.until(
        `slo:sli_error:ratio_rate5m{sloth_service="${service}", sloth_slo="items-fast"}`,
        (r) => r.length === 1 && Number.isFinite(Number(r[0].value[1])),
        `${service}: the items-fast SLI`,
      );
    }
    for (const g of groups.groups) for (const r of g.rules) assert.notEqual(r.health, 'err', `${g.name}`);
    t.diagnostic(`firing: ${alerts.filter((a) => a.state === 'firing').length} alerts`);
  });

  for (const preset of ['otel', 'legacy'] as const) {
    test(`every ${preset} dashboard panel query parses and returns data; variables resolve`, async (t) => {
      const job = preset === 'otel' ? 'detailed' : 'legacy';
      const service = preset === 'otel' ? 'otel-app' : 'legacy-app';
      const dashboards = grafanaDashboards({ naming: preset, service });
      const detailedOnly = detailedNames(preset);
      // The SLO series exist once a few evaluations ran over scraped data.
      const sloReady = Date.now() + 30_000;
      while ((await prom.query(`slo:period_error_budget_remaining:ratio{sloth_service="${service}"}`)).length < 2) {
        assert.ok(Date.now() < sloReady, `SLO series of ${service}\n${prom.log().slice(-2000)}`);
        await sleep(500);
      }
      let checked = 0;
      const skipped: string[] = [];
      for (const [file, text] of Object.entries(dashboards)) {
        const d = JSON.parse(text) as Dashboard;
        const values: Record<string, string> = {
          __rate_interval: '20s',
          __range: '2m',
          job,
          instance: '.*',
          service,
          slo: '.*',
        };
        const substitute = (expr: string) =>
          expr.replace(/\$(\w+)/g, (m, name: string) => {
            assert.ok(name in values, `${file}: unknown variable ${m} in ${expr}`);
            return values[name];
          });
        for (const v of d.templating.list) {
          if (v.type !== 'query') continue;
          const query = typeof v.query === 'string' ? v.query : v.query.query;
          const m = /^label_values\((.+), (\w+)\)$/.exec(query);
          assert.ok(m, `${file}: variable ${v.name} query ${query}`);
          const found = await prom.api<string[]>(
            `/api/v1/label/${m[2]}/values?match[]=${encodeURIComponent(substitute(m[1]))}`,
          );
          assert.ok(found.length > 0, `${file}: variable ${v.name} (${query}) has no values`);
          if (v.name === 'endpoint') values.endpoint = found.map((s) => s.replace(/[{}]/g, '\\\\$&')).join('|');
        }
        for (const p of panelsOf(d)) {
          assert.ok(p.targets !== undefined && p.targets.length > 0, `${file}: ${p.title} has queries`);
          for (const target of p.targets) {
            const expr = substitute(target.expr);
            assert.deepEqual(parseErrors(expr), [], `${file}: ${p.title}: ${expr}`);
            if (preset === 'legacy' && detailedOnly.some((n) => target.expr.includes(n))) {
              skipped.push(`${p.title} (detailed mode only; the legacy app runs without it)`);
              continue;
            }
            const result = await prom.query(expr);
            assert.ok(result.length > 0, `${file}: panel "${p.title}" returned nothing: ${expr}`);
            checked++;
          }
        }
      }
      assert.ok(checked > 30, `${checked} queries checked`);
      t.diagnostic(`${checked} panel queries returned data; skipped: ${skipped.join('; ') || 'none'}`);
    });
  }
});
