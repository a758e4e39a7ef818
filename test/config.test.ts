import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_KEYS, loadConfig, type ApimeterOptions, type LoadConfigInput } from '../src/core/config.js';
import { ApimeterError } from '../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'apimeter-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** A fresh directory, optionally holding apimeter.ini with `ini` as its text. */
function workdir(ini?: string): string {
  const dir = join(root, `case-${++dirCount}`);
  mkdirSync(dir);
  if (ini !== undefined) writeFileSync(join(dir, 'apimeter.ini'), ini);
  return dir;
}

/** loadConfig isolated from the real process: no INI unless given, no process.env. */
function load(input: LoadConfigInput = {}) {
  return loadConfig({ iniPath: false, env: {}, ...input });
}

function failure(fn: () => unknown): ApimeterError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ApimeterError, `expected ApimeterError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected loadConfig to throw');
}

/** The problems of a config that must be invalid. */
function problemsOf(input: LoadConfigInput): readonly string[] {
  const error = failure(() => load(input));
  assert.equal(error.code, 'APIMETER_ERR_CONFIG_INVALID');
  return error.problems;
}

const env1 = (name: string, value: string) => ({ env: { [name]: value } });

test('defaults: every key has its documented default', () => {
  const config = load();
  assert.equal(config.metricsEnabled, true);
  assert.deepEqual(config.metricsExcludedEndpoints, []);
  assert.equal(config.metricsDetailed, false);
  assert.equal(config.metricsSampleRate, 1);
  assert.equal(config.metricsErrorSamples, 5);
  assert.equal(config.metricsErrorMessages, 'normalized');
  assert.deepEqual(config.metricsApiKeyHeaders, ['x-api-key', 'api-key', 'apikey']);
  assert.deepEqual(config.metricsSessionCookies, [
    'session',
    'sessionid',
    'sid',
    'connect.sid',
    'JSESSIONID',
    '_session_id',
  ]);
  assert.equal(config.metricsMaxEndpoints, 1000);
  assert.equal(config.metricsApiPrefix, '/api/v2/metrics');
  assert.equal(config.metricsApiToken, '');
  assert.equal(config.metricsApiCacheSeconds, 5);
  assert.equal(config.metricsApiOpenPrometheus, false);
  assert.equal(config.metricsPrometheusPath, '/metrics');
  assert.equal(config.metricsHealthMinRequests, 20);
  assert.equal(config.metricsHealthP95DegradedMs, 1000);
  assert.equal(config.metricsHealthP95UnhealthyMs, 5000);
  assert.equal(config.metricsHealthErrorRateDegraded, 0.01);
  assert.equal(config.metricsHealthErrorRateUnhealthy, 0.1);
  assert.equal(config.metricsHealthFailOnUnhealthy, false);
  assert.equal(config.apiMetricsPrefix, 'api');
  assert.equal(config.apiMetricsPersistence, false);
  assert.equal(config.apiMetricsRetentionDays, 30);
  assert.equal(config.apiMetricsSnapshotInterval, 300);
  assert.equal(config.apiMetricsStoreUrl, '');
  assert.equal(config.apiMetricsLiveInterval, 0);
  assert.equal(config.apiMetricsFleetGoneSeconds, 600);
  assert.equal(config.statsdOn, false);
  assert.equal(config.statsdHost, 'localhost');
  assert.equal(config.statsdPort, 8125);
  assert.equal(config.statsdPrefix, 'apimeter');
  assert.equal(config.statsdDatadogEnabled, false);
  assert.deepEqual(config.statsdDatadogTags, []);
  assert.deepEqual(config.statsdDisabledTags, []);
  assert.equal(config.statsdInfluxdbEnabled, false);
  assert.equal(config.statsdUdsPath, '');
  assert.equal(config.statsdFlushIntervalMs, 10000);
  assert.equal(config.statsdMaxDatagramBytes, 1432);
  assert.equal(config.statsdMaxBufferBytes, 1048576);
  assert.equal(config.statsdTimerMode, 'values');
  assert.equal(config.statsdTimerMaxValues, 1000);
  assert.equal(config.statsdTimerScale, 4);
  assert.equal(config.otelOn, false);
  assert.equal(config.otelHost, 'localhost');
  assert.equal(config.otelPort, 4318);
  assert.equal(config.otelSslActive, false);
  assert.equal(config.otelIntervalMilliseconds, 60000);
  assert.equal(config.otelPrefix, 'apimeter');
  assert.equal(config.otelExponentialHistograms, false);
  assert.equal(config.otelExponentialMaxBuckets, 1280);
  assert.equal(config.otelRouteStyle, 'framework');
  assert.equal(config.otelUrlScheme, 'http');
  assert.equal(config.otelServiceInstanceId, '');
  assert.equal(config.prometheusNaming, 'otel');
  assert.deepEqual(config.metricsAllowList, []);
  assert.deepEqual(config.metricsBlockList, []);
  assert.equal(config.alertsEnabled, true);
  assert.equal(config.alertsEvaluationInterval, 30);
  assert.equal(config.alertsRulesFile, '');
  assert.equal(config.alertsDefaultRules, true);
  assert.equal(config.alertsErrorRateThreshold, 0.05);
  assert.equal(config.alertsP95ThresholdMs, 1000);
  assert.equal(config.alertsAuthFailureThreshold, 0.2);
  assert.equal(config.alertsAnomalyThreshold, 6);
  assert.equal(config.alertsAnomalyMinRequests, 50);
  assert.equal(config.alertsApdexTMs, 500);
  assert.equal(config.alertsService, 'api');
  assert.equal(config.metricsUiTraceUrl, '');
  assert.equal(Object.keys(config).length, CONFIG_KEYS.length);
});

test('CONFIG_KEYS: one row per key, names derived consistently', () => {
  assert.ok(CONFIG_KEYS.length >= 62, 'the first wave had 62 keys');
  const camel = (snake: string) => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  for (const row of CONFIG_KEYS) {
    // The seed's [api]/[metrics] keys carry their own prefixes; newer sections' options are prefixed with the section.
    const legacy = row.section === 'api' || row.section === 'metrics';
    assert.equal(row.option, camel(legacy ? row.key : `${row.section}_${row.key}`), row.key);
    assert.equal(row.env, `APIMETER__${row.section.toUpperCase()}__${row.key.toUpperCase()}`);
    assert.ok(row.description.length > 10, `${row.key} has a description`);
  }
  assert.equal(new Set(CONFIG_KEYS.map((k) => k.option)).size, CONFIG_KEYS.length);
  assert.equal(new Set(CONFIG_KEYS.map((k) => `${k.section}.${k.key}`)).size, CONFIG_KEYS.length);
  assert.deepEqual(
    CONFIG_KEYS.filter((k) => k.secret).map((k) => k.key),
    ['metrics_consumer_secret', 'metrics_api_token', 'api_metrics_store_url'],
  );
  assert.deepEqual(
    CONFIG_KEYS.filter((k) => k.section === 'api').map((k) => k.key),
    [
      'metrics_enabled',
      'metrics_excluded_endpoints',
      'metrics_detailed',
      'metrics_sample_rate',
      'metrics_error_samples',
      'metrics_error_messages',
      'metrics_api_key_headers',
      'metrics_session_cookies',
      'metrics_consumers',
      'metrics_consumer_header',
      'metrics_consumer_jwt',
      'metrics_consumer_api_key_headers',
      'metrics_consumer_secret',
      'metrics_consumer_max_length',
      'metrics_consumer_top',
      'metrics_consumer_endpoint_top',
      'metrics_consumer_groups',
      'metrics_consumer_labels',
      'metrics_max_endpoints',
      'metrics_api_prefix',
      'metrics_api_token',
      'metrics_api_cache_seconds',
      'metrics_api_open_prometheus',
      'metrics_prometheus_path',
      'metrics_health_min_requests',
      'metrics_health_p95_degraded_ms',
      'metrics_health_p95_unhealthy_ms',
      'metrics_health_error_rate_degraded',
      'metrics_health_error_rate_unhealthy',
      'metrics_health_fail_on_unhealthy',
      'metrics_ui_trace_url',
    ],
  );
});

test('the result is deeply frozen', () => {
  const config = load({ options: { metricsExcludedEndpoints: ['/health'] } });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.metricsExcludedEndpoints));
  assert.throws(() => {
    (config as { metricsSampleRate: number }).metricsSampleRate = 0.5;
  }, TypeError);
  assert.throws(() => (config.metricsExcludedEndpoints as string[]).push('/x'), TypeError);
  // A list passed in code is copied, not frozen in place.
  const mine = ['/a'];
  load({ options: { metricsExcludedEndpoints: mine } });
  mine.push('/b');
  assert.deepEqual(mine, ['/a', '/b']);
});

test('precedence: defaults < INI < env < options, key by key', () => {
  const cwd = workdir(
    [
      '[api]',
      'metrics_sample_rate = 0.2',
      '[metrics]',
      'statsd_host = ini-host',
      'api_metrics_retention_days = 10',
    ].join('\n'),
  );
  const env = { APIMETER__API__METRICS_SAMPLE_RATE: '0.3', APIMETER__METRICS__STATSD_HOST: 'env-host' };

  const iniOnly = loadConfig({ cwd, env: {} });
  assert.equal(iniOnly.metricsSampleRate, 0.2);
  assert.equal(iniOnly.statsdHost, 'ini-host');
  assert.equal(iniOnly.apiMetricsRetentionDays, 10);
  assert.equal(iniOnly.statsdPort, 8125);

  const withEnv = loadConfig({ cwd, env });
  assert.equal(withEnv.metricsSampleRate, 0.3);
  assert.equal(withEnv.statsdHost, 'env-host');
  assert.equal(withEnv.apiMetricsRetentionDays, 10);

  const all = loadConfig({ cwd, env, options: { metricsSampleRate: 0.4 } });
  assert.equal(all.metricsSampleRate, 0.4);
  assert.equal(all.statsdHost, 'env-host');
  assert.equal(all.apiMetricsRetentionDays, 10);
  assert.equal(all.otelPort, 4318);
});

test('an option set to undefined does not override lower layers', () => {
  const config = load(env1('APIMETER__METRICS__STATSD_PORT', '9125'));
  assert.equal(config.statsdPort, 9125);
  const withUndefined = load({ env: { APIMETER__METRICS__STATSD_PORT: '9125' }, options: { statsdPort: undefined } });
  assert.equal(withUndefined.statsdPort, 9125);
});

test('INI location: ./apimeter.ini, $APIMETER_CONFIG, iniPath, iniPath false', () => {
  const cwd = workdir('[metrics]\nstatsd_port = 1001\n');
  writeFileSync(join(cwd, 'other.ini'), '[metrics]\nstatsd_port = 1002\n');
  writeFileSync(join(cwd, 'third.ini'), '[metrics]\nstatsd_port = 1003\n');

  assert.equal(loadConfig({ cwd, env: {} }).statsdPort, 1001);
  assert.equal(loadConfig({ cwd, env: { APIMETER_CONFIG: 'other.ini' } }).statsdPort, 1002);
  assert.equal(loadConfig({ cwd, env: { APIMETER_CONFIG: join(cwd, 'other.ini') } }).statsdPort, 1002);
  assert.equal(loadConfig({ cwd, env: { APIMETER_CONFIG: 'other.ini' }, iniPath: 'third.ini' }).statsdPort, 1003);
  assert.equal(loadConfig({ cwd, env: { APIMETER_CONFIG: 'other.ini' }, iniPath: false }).statsdPort, 8125);
});

test('a missing default apimeter.ini is fine; a missing named file is APIMETER_ERR_CONFIG_FILE', () => {
  const cwd = workdir();
  assert.equal(loadConfig({ cwd, env: {} }).statsdPort, 8125);

  const byOption = failure(() => loadConfig({ cwd, env: {}, iniPath: 'nope.ini' }));
  assert.equal(byOption.code, 'APIMETER_ERR_CONFIG_FILE');
  assert.match(byOption.message, /nope\.ini: file not found \(named by option iniPath\)/);

  const byEnv = failure(() => loadConfig({ cwd, env: { APIMETER_CONFIG: 'gone.ini' } }));
  assert.equal(byEnv.code, 'APIMETER_ERR_CONFIG_FILE');
  assert.match(byEnv.message, /gone\.ini: file not found \(named by env APIMETER_CONFIG\)/);
});

test('an unreadable or unparseable INI is APIMETER_ERR_CONFIG_FILE', () => {
  const cwd = workdir();
  mkdirSync(join(cwd, 'dir.ini'));
  const unreadable = failure(() => loadConfig({ cwd, env: {}, iniPath: 'dir.ini' }));
  assert.equal(unreadable.code, 'APIMETER_ERR_CONFIG_FILE');
  assert.match(unreadable.message, /cannot read dir\.ini: EISDIR/);

  writeFileSync(join(cwd, 'bad.ini'), '[api]\nmetrics_enabled = true\nmetrics_api_token secret-value\n[metrics\n');
  const bad = failure(() => loadConfig({ cwd, env: {}, iniPath: 'bad.ini' }));
  assert.equal(bad.code, 'APIMETER_ERR_CONFIG_FILE');
  assert.deepEqual(bad.problems, ['bad.ini:3: expected "key = value" in [api]', 'bad.ini:4: malformed section header']);
  assert.ok(!bad.message.includes('secret-value'), 'a malformed line is not echoed');

  writeFileSync(join(cwd, 'binary.ini'), Buffer.from([0x5b, 0x00, 0x01, 0x02]));
  const binary = failure(() => loadConfig({ cwd, env: {}, iniPath: 'binary.ini' }));
  assert.equal(binary.code, 'APIMETER_ERR_CONFIG_FILE');
  assert.deepEqual(binary.problems, ['binary.ini: not a text file']);
});

test('INI syntax: comments, quotes, case, other sections, BOM, CRLF', () => {
  const text = [
    '\uFEFF; a comment',
    '# another',
    'top_level = ignored',
    '[core]',
    'dags_folder = /x',
    'no equals sign here is fine outside our sections',
    '[API]',
    'Metrics_Enabled = False',
    "metrics_api_token = 'quoted;value'",
    'metrics_excluded_endpoints = /health, /ready ; trailing comment',
    '[metrics] ; section comment',
    'statsd_prefix = "my.app"',
    '',
  ].join('\r\n');
  const config = loadConfig({ cwd: workdir(text), env: {} });
  assert.equal(config.metricsEnabled, false);
  assert.equal(config.metricsApiToken, 'quoted;value');
  assert.deepEqual(config.metricsExcludedEndpoints, ['/health', '/ready']);
  assert.equal(config.statsdPrefix, 'my.app');
});

test('booleans from text: true/false 1/0 yes/no on/off, any case, trimmed', () => {
  const cases: Array<[string, boolean]> = [
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['Yes', true],
    ['on', true],
    [' ON ', true],
    ['false', false],
    ['False', false],
    ['0', false],
    ['no', false],
    ['NO', false],
    ['off', false],
  ];
  for (const [text, expected] of cases) {
    assert.equal(load(env1('APIMETER__METRICS__STATSD_ON', text)).statsdOn, expected, JSON.stringify(text));
  }
  for (const bad of ['', 'tru', 'enabled', 'y', '2']) {
    assert.deepEqual(problemsOf(env1('APIMETER__METRICS__STATSD_ON', bad)), [
      `[metrics] statsd_on = ${JSON.stringify(bad)} (env APIMETER__METRICS__STATSD_ON): expected a boolean (true/false, t/f, 1/0, yes/no, on/off)`,
    ]);
  }
});

test('numbers from text: finite decimals only', () => {
  const cases: Array<[string, number]> = [
    ['0.5', 0.5],
    [' .25 ', 0.25],
    ['1', 1],
    ['0', 0],
    ['1e-1', 0.1],
    ['+0.75', 0.75],
    ['1.', 1],
  ];
  for (const [text, expected] of cases) {
    assert.equal(load(env1('APIMETER__API__METRICS_SAMPLE_RATE', text)).metricsSampleRate, expected, text);
  }
  for (const bad of ['', 'abc', '0x1', 'Infinity', 'NaN', '1e400', '0.5.1', '1,5', '-0.1', '1.01']) {
    assert.deepEqual(problemsOf(env1('APIMETER__API__METRICS_SAMPLE_RATE', bad)), [
      `[api] metrics_sample_rate = ${JSON.stringify(bad)} (env APIMETER__API__METRICS_SAMPLE_RATE): expected a number between 0 and 1`,
    ]);
  }
});

test('integers: whole, within bounds', () => {
  assert.equal(load(env1('APIMETER__API__METRICS_MAX_ENDPOINTS', '2500')).metricsMaxEndpoints, 2500);
  assert.equal(load(env1('APIMETER__API__METRICS_MAX_ENDPOINTS', '1e3')).metricsMaxEndpoints, 1000);
  assert.equal(load(env1('APIMETER__METRICS__STATSD_PORT', '65535')).statsdPort, 65535);
  assert.equal(load(env1('APIMETER__METRICS__OTEL_PORT', '1')).otelPort, 1);

  const cases: Array<[string, string, string]> = [
    ['APIMETER__API__METRICS_MAX_ENDPOINTS', '1.5', 'a whole number of at least 1'],
    ['APIMETER__API__METRICS_MAX_ENDPOINTS', '0', 'a whole number of at least 1'],
    ['APIMETER__METRICS__STATSD_PORT', '65536', 'a port number from 1 to 65535'],
    ['APIMETER__METRICS__OTEL_PORT', '0', 'a port number from 1 to 65535'],
    ['APIMETER__METRICS__API_METRICS_RETENTION_DAYS', '-3', 'a whole number of days, at least 1'],
    ['APIMETER__METRICS__API_METRICS_SNAPSHOT_INTERVAL', '0.5', 'a whole number of seconds, at least 1'],
    ['APIMETER__METRICS__OTEL_INTERVAL_MILLISECONDS', 'soon', 'a whole number of milliseconds, at least 1'],
  ];
  for (const [name, value, expected] of cases) {
    const [problem] = problemsOf(env1(name, value));
    assert.ok(problem.endsWith(`= "${value}" (env ${name}): expected ${expected}`), problem);
  }
});

test('lists: comma-separated, trimmed, empty items dropped; arrays or strings in code', () => {
  assert.deepEqual(
    load(env1('APIMETER__API__METRICS_EXCLUDED_ENDPOINTS', ' /health , ,/api/v2/metrics,')).metricsExcludedEndpoints,
    ['/health', '/api/v2/metrics'],
  );
  assert.deepEqual(load(env1('APIMETER__API__METRICS_EXCLUDED_ENDPOINTS', '')).metricsExcludedEndpoints, []);
  assert.deepEqual(load({ options: { metricsAllowList: 'request., auth' } }).metricsAllowList, ['request.', 'auth']);
  assert.deepEqual(load({ options: { metricsBlockList: [' debug ', '', 'x.y'] } }).metricsBlockList, ['debug', 'x.y']);
  assert.deepEqual(load({ options: { statsdDatadogTags: ['env:prod', 'team:api'] } }).statsdDatadogTags, [
    'env:prod',
    'team:api',
  ]);
  assert.deepEqual(load(env1('APIMETER__METRICS__STATSD_DISABLED_TAGS', 'status, error_type')).statsdDisabledTags, [
    'status',
    'error_type',
  ]);
});

test('list items are validated and the bad item is named', () => {
  assert.deepEqual(problemsOf(env1('APIMETER__API__METRICS_EXCLUDED_ENDPOINTS', '/health,health')), [
    '[api] metrics_excluded_endpoints = "/health,health" (env APIMETER__API__METRICS_EXCLUDED_ENDPOINTS): expected a comma-separated list of paths, each starting with "/" (bad item: "health")',
  ]);
  assert.deepEqual(problemsOf({ options: { statsdDatadogTags: ['env:prod', 'oops'] } }), [
    '[metrics] statsd_datadog_tags = ["env:prod","oops"] (option statsdDatadogTags): expected a comma-separated list of key:value tags (bad item: "oops")',
  ]);
  // Airflow 3 patterns: anything that compiles as a regular expression.
  const [allow] = problemsOf({ options: { metricsAllowList: 'ok,api(' } });
  assert.match(
    allow,
    /^\[metrics\] metrics_allow_list = "ok,api\(" \(option metricsAllowList\): .*\(bad item: "api\("\)$/,
  );
});

test('string keys: prefixes, hosts, URLs', () => {
  const ok = load({
    options: {
      metricsApiPrefix: '/internal/metrics',
      apiMetricsPrefix: 'my_app.api',
      statsdPrefix: '',
      statsdHost: '10.0.0.7',
      otelHost: 'collector.svc',
      apiMetricsStoreUrl: 'postgres://u:p@db/metrics',
    },
  });
  assert.equal(ok.metricsApiPrefix, '/internal/metrics');
  assert.equal(ok.apiMetricsPrefix, 'my_app.api');
  assert.equal(ok.statsdPrefix, '');
  assert.equal(ok.apiMetricsStoreUrl, 'postgres://u:p@db/metrics');
  assert.equal(
    load({ options: { apiMetricsStoreUrl: 'sqlite:./data/m.db' } }).apiMetricsStoreUrl,
    'sqlite:./data/m.db',
  );

  const problems = problemsOf({
    options: {
      metricsApiPrefix: 'api/metrics',
      apiMetricsPrefix: 'api..x',
      statsdPrefix: 'my app',
      otelPrefix: '.apimeter',
      statsdHost: '',
    },
  });
  assert.deepEqual(problems, [
    '[api] metrics_api_prefix = "api/metrics" (option metricsApiPrefix): expected a URL path starting with "/" (no spaces, "?" or "#")',
    '[metrics] api_metrics_prefix = "api..x" (option apiMetricsPrefix): expected a metric name prefix: segments of A-Z a-z 0-9 _ - / joined by single dots, at most 250 characters',
    '[metrics] statsd_prefix = "my app" (option statsdPrefix): expected a metric name prefix: segments of A-Z a-z 0-9 _ - / joined by single dots, at most 250 characters',
    '[metrics] otel_prefix = ".apimeter" (option otelPrefix): expected a metric name prefix: segments of A-Z a-z 0-9 _ - / joined by single dots, at most 250 characters',
    '[metrics] statsd_host = "" (option statsdHost): expected a host name or IP address',
  ]);
});

test('options must have the JS type of the key', () => {
  const options = {
    metricsEnabled: 'yes',
    metricsSampleRate: '0.5',
    statsdPort: Number.NaN,
    statsdHost: 3,
    metricsBlockList: 7,
    otelOn: null,
  } as unknown as ApimeterOptions;
  assert.deepEqual(problemsOf({ options }), [
    '[api] metrics_enabled = "yes" (option metricsEnabled): expected a boolean (got a string)',
    '[api] metrics_sample_rate = "0.5" (option metricsSampleRate): expected a number between 0 and 1 (got a string)',
    '[metrics] statsd_port = NaN (option statsdPort): expected a port number from 1 to 65535',
    '[metrics] statsd_host = 3 (option statsdHost): expected a host name or IP address (got a number)',
    '[metrics] metrics_block_list = 7 (option metricsBlockList): expected a comma-separated list of regular expressions (Airflow 3: searched anywhere in the lower-cased name) (got a number)',
    '[metrics] otel_on = null (option otelOn): expected a boolean (got null)',
  ]);
});

test('a problem names the INI file and line', () => {
  const cwd = workdir('[metrics]\n\n# retention\napi_metrics_retention_days = a month\n');
  const error = failure(() => loadConfig({ cwd, env: {} }));
  assert.equal(error.code, 'APIMETER_ERR_CONFIG_INVALID');
  assert.deepEqual(error.problems, [
    '[metrics] api_metrics_retention_days = "a month" (apimeter.ini:4): expected a whole number of days, at least 1',
  ]);
  // Outside cwd the absolute path is shown.
  const elsewhere = failure(() => loadConfig({ cwd: workdir(), env: {}, iniPath: join(cwd, 'apimeter.ini') }));
  assert.equal(
    elsewhere.problems[0].split(' (')[1],
    `${join(cwd, 'apimeter.ini')}:4): expected a whole number of days, at least 1`,
  );
});

test('all problems of all sources are reported in one error', () => {
  const cwd = workdir('[api]\nmetrics_sample_rate = 2\nmetrics_enabled = maybe\n');
  const error = failure(() =>
    loadConfig({
      cwd,
      env: { APIMETER__METRICS__STATSD_PORT: 'http', PATH: '/usr/bin' },
      options: { otelPort: 0 },
    }),
  );
  assert.equal(error.code, 'APIMETER_ERR_CONFIG_INVALID');
  const expected = [
    '[api] metrics_sample_rate = "2" (apimeter.ini:2): expected a number between 0 and 1',
    '[api] metrics_enabled = "maybe" (apimeter.ini:3): expected a boolean (true/false, t/f, 1/0, yes/no, on/off)',
    '[metrics] statsd_port = "http" (env APIMETER__METRICS__STATSD_PORT): expected a port number from 1 to 65535',
    '[metrics] otel_port = 0 (option otelPort): expected a port number from 1 to 65535',
  ];
  assert.deepEqual(error.problems, expected);
  assert.equal(
    error.message,
    `APIMETER_ERR_CONFIG_INVALID: 4 configuration problems:\n${expected.map((p) => `  - ${p}`).join('\n')}`,
  );
});

test('a bad value is reported even when a higher layer overrides it', () => {
  const cwd = workdir('[api]\nmetrics_sample_rate = lots\n');
  assert.deepEqual(problemsOf({ iniPath: join(cwd, 'apimeter.ini'), options: { metricsSampleRate: 0.5 } }), [
    `[api] metrics_sample_rate = "lots" (${join(cwd, 'apimeter.ini')}:2): expected a number between 0 and 1`,
  ]);
});

test('unknown keys in INI sections, with a did-you-mean for near misses', () => {
  const cwd = workdir(
    '[api]\nmetrics_sampel_rate = 0.5\nstatsd_on = true\ncompletely_else = 1\n[other]\nwhatever = 1\n',
  );
  const problems = failure(() => loadConfig({ cwd, env: {} })).problems;
  const apiKeys = [
    'metrics_enabled, metrics_excluded_endpoints, metrics_detailed, metrics_sample_rate, metrics_error_samples, metrics_error_messages, metrics_api_key_headers, metrics_session_cookies',
    'metrics_consumers, metrics_consumer_header, metrics_consumer_jwt, metrics_consumer_api_key_headers, metrics_consumer_secret, metrics_consumer_max_length, metrics_consumer_top, metrics_consumer_endpoint_top, metrics_consumer_groups, metrics_consumer_labels',
    'metrics_max_endpoints',
    'metrics_api_prefix, metrics_api_token, metrics_api_cache_seconds, metrics_api_open_prometheus',
    'metrics_prometheus_path, metrics_health_min_requests, metrics_health_p95_degraded_ms',
    'metrics_health_p95_unhealthy_ms, metrics_health_error_rate_degraded, metrics_health_error_rate_unhealthy',
    'metrics_health_fail_on_unhealthy, metrics_ui_trace_url',
  ].join(', ');
  assert.deepEqual(problems, [
    `[api] metrics_sampel_rate (apimeter.ini:2): unknown key; did you mean [api] metrics_sample_rate? known keys: ${apiKeys}`,
    `[api] statsd_on (apimeter.ini:3): unknown key; did you mean [metrics] statsd_on? known keys: ${apiKeys}`,
    `[api] completely_else (apimeter.ini:4): unknown key; known keys: ${apiKeys}`,
  ]);
});

test('a misspelled section holding apimeter keys is a problem; other sections stay ignored', () => {
  const cwd = workdir(
    [
      '[metric]',
      'statsd_on = true',
      'statsd_host = 10.0.0.1',
      '[apimeter]',
      'metrics_enabled = false',
      '[app]',
      'name = unrelated',
      '[core]',
      'metrics_enabled = shared-file key of another tool',
      '[apis]',
      'nothing_of_ours = 1',
      '',
    ].join('\n'),
  );
  assert.deepEqual(failure(() => loadConfig({ cwd, env: {} })).problems, [
    '[metric] (apimeter.ini:1): unknown section; did you mean [metrics]? It holds statsd_on, statsd_host, read only from their own section; known sections: api, metrics, alerts',
    '[apimeter] (apimeter.ini:4): unknown section; did you mean [api]? It holds metrics_enabled, read only from their own section; known sections: api, metrics, alerts',
  ]);
});

test('a key set twice in the INI is a problem', () => {
  const cwd = workdir('[metrics]\nstatsd_on = true\n\nstatsd_on = false\n');
  assert.deepEqual(failure(() => loadConfig({ cwd, env: {} })).problems, [
    '[metrics] statsd_on (apimeter.ini:4): duplicate key; first set on line 2',
  ]);
});

test('unknown APIMETER__ variables are problems; other variables are ignored', () => {
  const problems = problemsOf({
    env: {
      HOME: '/root',
      APIMETER_CONFIG: '',
      APIMETER__METRICS__STATSD_PROT: '8125',
      APIMETER__CORE__DAGS: 'x',
      APIMETER__METRICS: 'x',
    },
  });
  assert.equal(problems.length, 3);
  // Variables are read in name order.
  assert.equal(
    problems[0],
    '[core] dags (env APIMETER__CORE__DAGS): unknown section "core"; known sections: api, metrics, alerts',
  );
  assert.equal(
    problems[1],
    'APIMETER__METRICS (env APIMETER__METRICS): not a configuration variable; expected APIMETER__<SECTION>__<KEY>',
  );
  assert.equal(
    problems[2],
    '[metrics] statsd_prot (env APIMETER__METRICS__STATSD_PROT): unknown key; did you mean APIMETER__METRICS__STATSD_PORT? known keys: ' +
      CONFIG_KEYS.filter((k) => k.section === 'metrics')
        .map((k) => k.key)
        .join(', '),
  );
});

test('unknown option names, with a suggestion for snake_case and typos', () => {
  const options = { statsd_port: 9125, otelHots: 'x', zzz: 1 } as unknown as ApimeterOptions;
  const problems = problemsOf({ options });
  const known = CONFIG_KEYS.map((k) => k.option).join(', ');
  assert.deepEqual(problems, [
    `option statsd_port: unknown key; did you mean statsdPort? known keys: ${known}`,
    `option otelHots: unknown key; did you mean otelHost? known keys: ${known}`,
    `option zzz: unknown key; known keys: ${known}`,
  ]);
});

test('secrets are masked in every message', () => {
  const token = 'tok en-with-space';
  const url = 'mysql://admin:hunter2@db/x';
  const cwd = workdir(`[api]\nmetrics_api_token = ${token}\n`);
  const error = failure(() =>
    loadConfig({
      cwd,
      env: { APIMETER__API__METRICS_API_TOKEN: 'also bad' },
      options: { apiMetricsStoreUrl: url, metricsApiToken: 42 as unknown as string },
    }),
  );
  assert.deepEqual(error.problems, [
    '[api] metrics_api_token = "***" (apimeter.ini:2): expected a token without spaces',
    '[api] metrics_api_token = "***" (env APIMETER__API__METRICS_API_TOKEN): expected a token without spaces',
    '[metrics] api_metrics_store_url = "***" (option apiMetricsStoreUrl): expected empty, or a URL starting with postgres://, postgresql:// or sqlite:',
    '[api] metrics_api_token = "***" (option metricsApiToken): expected a token without spaces (got a number)',
  ]);
  for (const secret of [token, 'also bad', 'hunter2', '42']) assert.ok(!error.message.includes(secret), secret);
  // A valid token is kept as given.
  assert.equal(load({ options: { metricsApiToken: 's3cr3t' } }).metricsApiToken, 's3cr3t');
});

test('a misspelled secret key does not echo its value', () => {
  const cwd = workdir('[api]\nmetrics_api_tokn = hunter2\n');
  const [problem] = failure(() => loadConfig({ cwd, env: {} })).problems;
  assert.match(
    problem,
    /^\[api\] metrics_api_tokn \(apimeter\.ini:2\): unknown key; did you mean \[api\] metrics_api_token\?/,
  );
  assert.ok(!problem.includes('hunter2'));
});

test('long values are shortened in messages', () => {
  const [problem] = problemsOf({ options: { statsdHost: 'x '.repeat(200) } });
  assert.equal(
    problem,
    `[metrics] statsd_host = "${'x '.repeat(59)}x… (option statsdHost): expected a host name or IP address`,
  );
});
