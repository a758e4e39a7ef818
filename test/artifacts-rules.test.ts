/**
 * `apimeter export`: the rule file passes `promtool check rules` (default rules with two SLOs, no SLOs
 * at all, both naming presets), its alerts equal the rule set, and bad input fails clearly with exit 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseRules, ruleDefaultsOf } from '../src/alerts/rules.js';
import { loadConfig } from '../src/core/config.js';
import { prometheusRulesYaml } from '../src/artifacts/prometheus-rules.js';
import { PROMTOOL_SKIP, promtoolCheckRules } from './helpers/artifacts.js';

const TWO_SLOS = `
slos:
  - name: dags-availability
    endpoints: ["GET /api/v2/dags", "/api/v2/dags/{dag_id}"]
    sli: availability
    objective: 99.9
    count_4xx_as_bad: true
  - name: runs-latency
    endpoints: "* /api/v2/dags/*/dagRuns*"
    sli: latency
    objective: 99
    threshold_ms: 500
    period: 7d
`;

const defaults = ruleDefaultsOf(loadConfig({ iniPath: false, env: {} }));

interface RuleFile {
  groups: {
    name: string;
    rules: { record?: string; alert?: string; expr: string; labels?: Record<string, string> }[];
  }[];
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'apimeter-export-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'export', ...args], {
    encoding: 'utf8',
    env: { ...process.env, APIMETER_CONFIG: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('promtool check rules on the generated file', { skip: PROMTOOL_SKIP }, () => {
  const cases: [string, string][] = [
    ['default rules and two SLOs', TWO_SLOS],
    ['no SLOs at all', ''],
  ];
  for (const [what, yaml] of cases) {
    for (const naming of ['otel', 'legacy'] as const) {
      test(`${what}, ${naming} naming`, () => {
        const set = parseRules(yaml, defaults, 'rules.yml');
        const text = prometheusRulesYaml(set, { naming, service: 'demo' });
        const file = join(dir, `${naming}-${set.slos.length}.yml`);
        writeFileSync(file, text);
        const check = promtoolCheckRules(file);
        assert.equal(check.status, 0, check.output);
        const doc = parseYaml(text) as RuleFile;
        const alerts = doc.groups.flatMap((g) => g.rules.filter((r) => r.alert !== undefined));
        // Every rule of the set but the anomaly baseline (no PromQL form) is an alert, once per SLO rule.
        const expected = set.rules.filter((r) => r.signal !== 'traffic_anomaly');
        assert.equal(alerts.length, expected.length, `alerts ${alerts.map((a) => a.alert).join(', ')}`);
        assert.match(text, /Not generated: rule TrafficAnomaly \(traffic_anomaly\): skipped, .*baseline/);
        const count = (re: RegExp) => (check.output.match(re) ?? [''])[0];
        assert.match(count(/SUCCESS: \d+ rules found/), /SUCCESS/);
        if (set.slos.length === 2) {
          const burn = alerts.filter((a) => a.alert!.startsWith('ErrorBudgetBurn'));
          assert.equal(burn.length, 8, 'four burn-rate alerts per SLO');
          const week = burn.find((a) => a.labels?.slo === 'runs-latency' && a.alert === 'ErrorBudgetBurn14x')!;
          // 7 d of 30 d: the 1 h / 5 m windows scale to 14 m / 1 m.
          assert.match(week.expr, /slo:sli_error:ratio_rate14m\{sloth_id="demo-runs-latency"\} \/ 0\.01 > 14\.4/);
          assert.match(week.expr, /slo:sli_error:ratio_rate1m\{/);
          const records = doc.groups.flatMap((g) => g.rules.map((r) => r.record)).filter(Boolean);
          for (const name of [
            'slo:objective:ratio',
            'slo:error_budget:ratio',
            'slo:period_error_budget_remaining:ratio',
          ])
            assert.ok(records.includes(name), name);
          const sli = doc.groups
            .flatMap((g) => g.rules)
            .find((r) => r.record === 'slo:sli_error:ratio_rate5m' && r.labels?.sloth_slo === 'dags-availability')!;
          assert.deepEqual(
            [sli.labels!.sloth_id, sli.labels!.sloth_service, sli.labels!.sloth_window],
            ['demo-dags-availability', 'demo', '5m'],
          );
          // count_4xx_as_bad: 4xx are bad too; the latency SLO reads the 0.5 s bucket.
          assert.match(sli.expr, naming === 'otel' ? /status_class=~"4xx\|5xx"/ : /status_code=~"5\.\.\|4\.\."/);
          assert.match(text, /le="0\.5"/);
        } else {
          assert.ok(!text.includes('slo:'), 'no SLO series without SLOs');
        }
        for (const a of alerts) assert.ok(a.expr.length > 0);
        const annotated = doc.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined) as unknown as {
          annotations: Record<string, string>;
        }[];
        for (const a of annotated) {
          assert.ok(a.annotations.summary.length > 0 && a.annotations.description.length > 0);
          assert.ok(
            !/\{\{(value|threshold|endpoint)\}\}/.test(JSON.stringify(a.annotations)),
            'placeholders translated',
          );
        }
      });
    }
  }
});

describe('apimeter export on the command line', () => {
  test('prometheus-rules to stdout, with a rules file; the naming preset changes every name', () => {
    const rules = join(dir, 'two-slos.yml');
    writeFileSync(rules, TWO_SLOS);
    const otel = cli('prometheus-rules', '--rules', rules, '--service', 'shop');
    assert.equal(otel.status, 0, otel.stderr);
    assert.match(otel.stdout, /sloth_service: shop/);
    assert.match(otel.stdout, /http_server_requests_total\{status_class="5xx"/);
    const legacy = cli('prometheus-rules', '--naming', 'legacy');
    assert.equal(legacy.status, 0, legacy.stderr);
    assert.match(legacy.stdout, /http_requests_total\{status_code=~"5\.\."\}/);
    assert.ok(!legacy.stdout.includes('http_server_requests_total'));
  });

  test('route matchers and le bounds follow the exposition: the preset defaults, --route-format, --duration-buckets', () => {
    const rules = join(dir, 'fast.yml');
    writeFileSync(
      rules,
      `${TWO_SLOS}  - name: dag-fast
    endpoints: "GET /api/v2/dags/{dag_id}"
    sli: latency
    objective: 90
    threshold_ms: 75
`,
    );
    const set = parseRules(readFileSync(rules, 'utf8'), defaults, 'fast.yml');
    const otel = prometheusRulesYaml(set, { naming: 'otel', service: 'x' });
    assert.match(otel, /route=~"\/api\/v2\/dags\/\\\\\{dag_id\\\\\}"/);
    assert.match(otel, /le="0\.075"/);
    // legacy: fastify-metrics' /api/v2/dags/:dag_id and prom-client's bounds (75 ms is read at the 50 ms bound).
    const legacy = prometheusRulesYaml(set, { naming: 'legacy', service: 'x' });
    assert.match(legacy, /route=~"\/api\/v2\/dags\/:dag_id"/);
    assert.ok(!legacy.includes('dag_id\\\\}'), 'no {dag_id} matcher in legacy');
    assert.match(legacy, /le="0\.05"/);
    assert.ok(!legacy.includes('le="0.075"'));
    assert.match(legacy, /routes colon, duration buckets 0\.005,0\.01,0\.025,0\.05,0\.1,0\.25,0\.5,1,2\.5,5,10 s/);
    const flags = cli(
      'prometheus-rules',
      '--rules',
      rules,
      '--naming',
      'legacy',
      '--route-format',
      'openapi',
      '--duration-buckets',
      '0.075,0.5,2',
    );
    assert.equal(flags.status, 0, flags.stderr);
    assert.match(flags.stdout, /le="0\.075"/);
    assert.ok(!flags.stdout.includes(':dag_id'));
    for (const [flag, value, message] of [
      ['--route-format', 'express', /--route-format "express": expected openapi or colon/],
      ['--duration-buckets', '0.5,0.1', /--duration-buckets "0\.5,0\.1": expected ascending positive seconds/],
      ['--duration-buckets', '0.1,x', /--duration-buckets "0\.1,x"/],
    ] as const) {
      const r = cli('prometheus-rules', flag, value);
      assert.equal(r.status, 1, `${flag} ${value}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });

  test('unknown naming preset: a clear error and exit 1', () => {
    const r = cli('prometheus-rules', '--naming', 'prom');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /APIMETER_ERR_CONFIG_INVALID: --naming "prom": expected one of otel, legacy/);
    assert.equal(r.stdout, '');
  });

  test('an unwritable output directory: a clear error and exit 1', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    for (const target of ['grafana', 'datadog']) {
      const r = cli(target, '--out', join(file, 'sub'));
      assert.equal(r.status, 1, target);
      assert.match(r.stderr, /APIMETER_ERR_EXPORT_OUTPUT: cannot create the output directory .*ENOTDIR/);
    }
    const r = cli('prometheus-rules', '--out', join(file, 'rules.yml'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /APIMETER_ERR_EXPORT_OUTPUT: cannot write .*rules\.yml: ENOTDIR/);
  });

  test('existing files are only overwritten with --force', () => {
    const out = join(dir, 'dash');
    const first = cli('grafana', '--out', out);
    assert.equal(first.status, 0, first.stderr);
    const files = readdirSync(out).sort();
    assert.deepEqual(files, ['apimeter-endpoint.json', 'apimeter-overview.json', 'apimeter-slo.json']);
    writeFileSync(join(out, 'apimeter-slo.json'), 'mine');
    const again = cli('grafana', '--out', out);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /apimeter-slo\.json exist.*pass --force/);
    assert.equal(readFileSync(join(out, 'apimeter-slo.json'), 'utf8'), 'mine', 'nothing overwritten');
    const forced = cli('grafana', '--out', out, '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.equal(
      (JSON.parse(readFileSync(join(out, 'apimeter-slo.json'), 'utf8')) as { uid: string }).uid,
      'apimeter-slo-otel',
    );

    const rulesFile = join(dir, 'rules-out.yml');
    writeFileSync(rulesFile, 'mine');
    assert.equal(cli('prometheus-rules', '--out', rulesFile).status, 1);
    assert.equal(readFileSync(rulesFile, 'utf8'), 'mine');
    assert.equal(cli('prometheus-rules', '--out', rulesFile, '--force').status, 0);
    assert.match(readFileSync(rulesFile, 'utf8'), /^# Generated by apimeter export prometheus-rules/);
  });

  test('grafana without --out, and an invalid rules file: exit 1 naming the problem', () => {
    const r = cli('grafana');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /needs --out DIR/);
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'slos:\n  - name: x\n    sli: availability\n    objective: 120\n');
    const b = cli('datadog', '--out', join(dir, 'dd'), '--rules', bad);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /APIMETER_ERR_ALERT_RULES_INVALID: .*SLO "x": field objective = 120/s);
  });

  test('without the Grafana SDK, export grafana fails with APIMETER_ERR_MISSING_DEPENDENCY and the npm install line', () => {
    // A module hook makes the SDK unresolvable, as on an install without the optional dependency.
    writeFileSync(
      join(dir, 'no-sdk-hooks.mjs'),
      `export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@grafana/grafana-foundation-sdk')) {
    const e = new Error("Cannot find package '@grafana/grafana-foundation-sdk' imported from " + context.parentURL);
    e.code = 'ERR_MODULE_NOT_FOUND';
    throw e;
  }
  return next(specifier, context);
}
`,
    );
    writeFileSync(
      join(dir, 'no-sdk.mjs'),
      "import { register } from 'node:module';\nregister('./no-sdk-hooks.mjs', import.meta.url);\n",
    );
    const out = join(dir, 'no-sdk-out');
    const r = spawnSync(
      process.execPath,
      ['--import', join(dir, 'no-sdk.mjs'), '--import', 'tsx', 'src/cli/main.ts', 'export', 'grafana', '--out', out],
      { encoding: 'utf8', env: { ...process.env, APIMETER_CONFIG: '' } },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /APIMETER_ERR_MISSING_DEPENDENCY: apimeter export grafana needs @grafana\/grafana-foundation-sdk/,
    );
    assert.match(r.stderr, /npm install @grafana\/grafana-foundation-sdk/);
    // The other targets do not need it.
    const rules = spawnSync(
      process.execPath,
      ['--import', join(dir, 'no-sdk.mjs'), '--import', 'tsx', 'src/cli/main.ts', 'export', 'prometheus-rules'],
      { encoding: 'utf8', env: { ...process.env, APIMETER_CONFIG: '' } },
    );
    assert.equal(rules.status, 0, rules.stderr);
  });
});

describe('examples/', () => {
  test('the generated files in examples/ are what apimeter export writes today', async () => {
    const set = parseRules(readFileSync('demo/alerts.yaml', 'utf8'), defaults, 'demo/alerts.yaml');
    assert.equal(
      readFileSync('examples/prometheus/apimeter.rules.yml', 'utf8'),
      prometheusRulesYaml(set, { naming: 'otel', service: 'demo' }),
      'regenerate: apimeter export prometheus-rules --rules demo/alerts.yaml --service demo --out examples/prometheus/apimeter.rules.yml --force',
    );
    const { grafanaDashboards } = await import('../src/artifacts/grafana.js');
    for (const [file, text] of Object.entries(grafanaDashboards({ naming: 'otel', service: 'demo' }))) {
      assert.equal(readFileSync(join('examples/grafana/dashboards', file), 'utf8'), text, `regenerate ${file}`);
    }
  });

  test('promtool accepts the example Prometheus config with its rules', { skip: PROMTOOL_SKIP }, () => {
    const config = readFileSync('examples/prometheus/prometheus.yml', 'utf8').replace(
      '/etc/prometheus/apimeter.rules.yml',
      join(process.cwd(), 'examples/prometheus/apimeter.rules.yml'),
    );
    const file = join(dir, 'prometheus.yml');
    writeFileSync(file, config);
    const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  const amtool = spawnSync('amtool', ['--version'], { stdio: 'ignore' });
  test(
    'amtool accepts the example Alertmanager config',
    { skip: amtool.error === undefined ? false : 'amtool is not installed (Debian package prometheus-alertmanager)' },
    () => {
      const r = spawnSync('amtool', ['check-config', 'examples/alertmanager/alertmanager.yml'], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    },
  );
});
