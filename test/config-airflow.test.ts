/**
 * A shared airflow.cfg: Airflow keys apimeter does not use are accepted with one notice, Airflow 3's
 * pattern allow/block lists (checked against Python's own `re`, running Airflow's matching code),
 * pattern `statsd_disabled_tags`, Airflow's boolean spellings, `_cmd` / `_secret` for the secret keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/core/config.js';
import { StatsdFormat } from '../src/exporters/statsd-format.js';
import { nameFilter } from '../src/exporters/statsd-options.js';

const fixture = fileURLToPath(new URL('./fixtures/airflow.cfg', import.meta.url));

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    return (error as { problems?: string[] }).problems ?? [String(error)];
  }
  assert.fail('expected a configuration error');
}

test('a real airflow.cfg loads: Airflow-only keys named in one notice line, apimeter keys read', () => {
  const notices: string[] = [];
  const config = loadConfig({ iniPath: fixture, env: {}, onNotice: (l) => notices.push(l) });
  assert.equal(notices.length, 1);
  for (const key of [
    '[metrics] statsd_ipv6',
    '[metrics] stat_name_handler',
    '[metrics] statsd_datadog_metrics_tags',
    '[metrics] statsd_custom_client_path',
    '[metrics] otel_debugging_on',
    '[metrics] otel_service',
    '[api] port',
    '[api] host',
    '[api] workers',
    '[api] enable_xcom_deserialize_support',
  ]) {
    assert.ok(notices[0].includes(key), `${key} in ${notices[0]}`);
  }
  assert.ok(!notices[0].includes('traces'), 'other sections are skipped silently');
  assert.equal(config.statsdOn, true);
  assert.equal(config.statsdHost, 'statsd.internal');
  assert.equal(config.statsdPrefix, 'airflow');
  assert.equal(config.statsdDatadogEnabled, true, 't');
  assert.equal(config.statsdInfluxdbEnabled, false, 'f');
  assert.deepEqual(config.metricsAllowList, ['^api.request', 'latency|duration']);
  assert.deepEqual(config.statsdDisabledTags, ['job_id', 'run_id']);
  assert.equal(config.otelPort, 8889);
  assert.equal(config.metricsSampleRate, 0.5);
});

test('unknown keys that are not Airflow options are still errors; so are patterns that do not compile', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apimeter-airflow-'));
  try {
    const file = path.join(dir, 'airflow.cfg');
    writeFileSync(file, '[metrics]\nstatsd_hots = x\nmetrics_allow_list = api(,ok\n[api]\nport = 8080\n');
    const problems = problemsOf(() => loadConfig({ iniPath: file, env: {}, onNotice: () => {} }));
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0], /statsd_hots .*unknown key; did you mean \[metrics\] statsd_host/);
    assert.match(problems[1], /metrics_allow_list .*regular expressions/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Airflow's boolean spellings: t/f, true/false, 1/0 in any case", () => {
  for (const [text, value] of [
    ['t', true],
    ['T', true],
    ['True', true],
    ['1', true],
    ['f', false],
    ['F', false],
    ['FALSE', false],
    ['0', false],
  ] as const) {
    const c = loadConfig({ iniPath: false, env: { APIMETER__METRICS__STATSD_ON: text } });
    assert.equal(c.statsdOn, value, text);
  }
  const [p] = problemsOf(() => loadConfig({ iniPath: false, env: { APIMETER__METRICS__STATSD_ON: 'tru' } }));
  assert.match(p, /t\/f/);
});

/** Airflow 3's ListValidator._has_pattern_match, run by Python itself. */
function airflowMatches(patterns: string, names: string[]): boolean[] | null {
  const script = [
    'import json, re, sys',
    'patterns, names = json.loads(sys.stdin.read())',
    'entries = tuple(item.strip().lower() for item in patterns.split(","))',
    'print(json.dumps([any(re.findall(e, n.strip().lower()) for e in entries) for n in names]))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script], { input: JSON.stringify([patterns, names]), encoding: 'utf8' });
  if (r.status !== 0) return null;
  return JSON.parse(r.stdout) as boolean[];
}

test('allow and block lists match as Airflow 3 does (compared with Python re running its code)', (t) => {
  const names = [
    'api.request.count',
    'api.request.duration',
    'api.error.count',
    'web/api.request.count',
    'API.Request.Size',
    'scheduler.heartbeat',
    'pool.open_slots.default',
    'ti.finish.dag.task.failed',
  ];
  const lists = [
    'api.request',
    '^api.request',
    'heartbeat|timeout',
    '^scheduler,^executor',
    'count$,size',
    'dur[a-z]+n',
    'API',
  ];
  const python = airflowMatches('x', ['x']);
  if (python === null) {
    t.skip('python3 is not installed: no independent implementation to compare with');
    return;
  }
  for (const list of lists) {
    const expected = airflowMatches(list, names)!;
    const entries = list.split(',');
    const allow = nameFilter(entries, []);
    const block = nameFilter([], entries);
    assert.deepEqual(
      names.map((n) => allow(n)),
      expected,
      `allow ${list}`,
    );
    assert.deepEqual(
      names.map((n) => block(n)),
      expected.map((m) => !m),
      `block ${list}`,
    );
  }
  // Both set: the allow list wins, the block list is ignored (Airflow warns and does the same).
  const both = nameFilter(['^api'], ['request']);
  assert.equal(both('api.request.count'), true);
});

test('statsd_disabled_tags are patterns on the tag name (Airflow 3): status also drops status_class', () => {
  const all = new StatsdFormat('datadog', [], ['status']);
  assert.equal(all.enabled('status'), false);
  assert.equal(all.enabled('status_class'), false);
  assert.equal(all.enabled('method'), true);
  const exact = new StatsdFormat('datadog', [], ['^status$']);
  assert.equal(exact.enabled('status'), false);
  assert.equal(exact.enabled('status_class'), true);
  const part = exact.extend(exact.extend('', 'status', '200'), 'status_class', '2xx');
  assert.equal(part, 'status_class:2xx');
});

test('_cmd runs a command for a secret key (file and env); the key itself wins and the command then does not run', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apimeter-cmd-'));
  try {
    const marker = path.join(dir, 'ran');
    const env = { APIMETER__API__METRICS_API_TOKEN_CMD: `printf 'from-env\\n'` };
    assert.equal(loadConfig({ iniPath: false, env }).metricsApiToken, 'from-env');
    const file = path.join(dir, 'airflow.cfg');
    writeFileSync(file, `[api]\nmetrics_api_token_cmd = echo from-file\n`);
    assert.equal(loadConfig({ iniPath: file, env: {} }).metricsApiToken, 'from-file');
    // env beats file, as for every key.
    assert.equal(loadConfig({ iniPath: file, env }).metricsApiToken, 'from-env');
    // The key itself in the same source: the command is not run.
    const both = {
      APIMETER__API__METRICS_API_TOKEN: 'plain',
      APIMETER__API__METRICS_API_TOKEN_CMD: `touch ${marker}; echo x`,
    };
    assert.equal(loadConfig({ iniPath: false, env: both }).metricsApiToken, 'plain');
    assert.equal(existsSync(marker), false);
    writeFileSync(file, `[api]\nmetrics_api_token = plain-file\nmetrics_api_token_cmd = touch ${marker}\n`);
    assert.equal(loadConfig({ iniPath: file, env: {} }).metricsApiToken, 'plain-file');
    assert.equal(existsSync(marker), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('_cmd failures, _secret and _cmd on a non-secret key are clear problems that never show the output', () => {
  const [failed] = problemsOf(() =>
    loadConfig({ iniPath: false, env: { APIMETER__API__METRICS_API_TOKEN_CMD: 'echo leaked; echo oops >&2; exit 3' } }),
  );
  assert.match(
    failed,
    /metrics_api_token_cmd \(env APIMETER__API__METRICS_API_TOKEN_CMD\): the command exited with 3: oops/,
  );
  assert.ok(!failed.includes('leaked'));
  const [empty] = problemsOf(() =>
    loadConfig({ iniPath: false, env: { APIMETER__API__METRICS_API_TOKEN_CMD: 'true' } }),
  );
  assert.match(empty, /printed nothing/);
  const [secret] = problemsOf(() =>
    loadConfig({ iniPath: false, env: { APIMETER__API__METRICS_API_TOKEN_SECRET: 'apimeter/token' } }),
  );
  assert.match(secret, /no secrets backend.*metrics_api_token_cmd.*metricsApiToken/);
  const [plain] = problemsOf(() =>
    loadConfig({ iniPath: false, env: { APIMETER__METRICS__STATSD_HOST_CMD: 'echo h' } }),
  );
  assert.match(plain, /statsd_host_cmd .*only secret keys/);
});
