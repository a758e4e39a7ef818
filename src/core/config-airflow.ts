import type * as ChildProcess from 'node:child_process';
import { keyBySectionKey, type InternalKey } from './config-keys.js';
import type { ReadItem } from './config-problems.js';
import { nodeBuiltin } from './runtime.js';

/**
 * What an `airflow.cfg` holds besides apimeter's keys, and Airflow's `_cmd` / `_secret` indirection.
 *
 * The keys below are Airflow 3's `[metrics]` and `[api]` options apimeter has no use for (from
 * `airflow-core/src/airflow/config_templates/config.yml`, plus the Airflow 2 `[metrics]` / `[api]` options
 * since removed). In a shared `airflow.cfg` they are accepted and named in one notice line
 * (`LoadConfigInput.onNotice`), not refused as unknown keys; any other unknown key still is.
 */
const AIRFLOW_ONLY: Readonly<Record<'api' | 'metrics', readonly string[]>> = {
  metrics: [
    'statsd_ipv6',
    'stat_name_handler',
    'statsd_datadog_metrics_tags',
    'statsd_custom_client_path',
    'otel_debugging_on',
    'otel_service',
    // Airflow 2.x
    'metrics_use_pattern_match',
    'timer_unit_consistency',
  ],
  api: [
    'expose_config',
    'base_url',
    'host',
    'port',
    'workers',
    'worker_timeout',
    'access_logfile',
    'ssl_cert',
    'ssl_key',
    'maximum_page_limit',
    'fallback_page_limit',
    'access_control_allow_headers',
    'access_control_allow_methods',
    'access_control_allow_origins',
    'enable_xcom_deserialize_support',
    'secret_key',
    'enable_swagger_ui',
    'expose_stacktrace',
    'grid_view_sorting_order',
    'log_config',
    // Airflow 2.x
    'auth_backends',
    'enable_experimental_api',
    'google_oauth2_audience',
    'google_key_path',
  ],
};

const AIRFLOW_ONLY_SET = new Set(Object.entries(AIRFLOW_ONLY).flatMap(([s, keys]) => keys.map((k) => `${s}.${k}`)));

/** A notice for the caller (not a problem): Airflow keys apimeter ignores. */
export interface Notice {
  notice: string;
}

/** Is `[section] key` an Airflow option apimeter does not use (also as `key_cmd` / `key_secret`)? */
export function isAirflowOnlyKey(section: string, key: string): boolean {
  const base = key.replace(/_(?:cmd|secret)$/, '');
  return AIRFLOW_ONLY_SET.has(`${section}.${key}`) || AIRFLOW_ONLY_SET.has(`${section}.${base}`);
}

/** The one line naming every ignored Airflow key, or null when there were none. */
export function airflowNotice(ignored: readonly string[]): string | null {
  if (ignored.length === 0) return null;
  return `apimeter: ignoring Airflow settings it does not use: ${[...new Set(ignored)].join(', ')}`;
}

/**
 * `<key>_cmd` and `<key>_secret` for a secret key, as Airflow reads them for its sensitive options
 * (`AIRFLOW__SECTION__KEY_CMD`, `key_cmd = …` in the file). Null when `keyName` is not one.
 */
export function indirectKey(section: string, keyName: string): { key: InternalKey; via: 'cmd' | 'secret' } | null {
  const m = /^(.+)_(cmd|secret)$/.exec(keyName);
  if (m === null) return null;
  const key = keyBySectionKey.get(`${section}.${m[1]}`);
  if (key === undefined) return null;
  return { key, via: m[2] as 'cmd' | 'secret' };
}

const COMMAND_TIMEOUT_MS = 10_000;

/**
 * The setting a `_cmd` / `_secret` line stands for, or the problem line. `_cmd` runs the command
 * (with `/bin/sh -c`; Airflow splits it with shlex and runs it without a shell, so a command written
 * for Airflow runs the same) and takes its standard output, without the trailing newline; a non-zero
 * exit, a timeout (10 s) or an empty output is a problem. `_secret` names a path in Airflow's secrets
 * backend, which apimeter does not have: a problem saying what to use instead.
 */
export function resolveIndirect(key: InternalKey, via: 'cmd' | 'secret', value: string, source: string): ReadItem {
  const subject = `[${key.section}] ${key.key}_${via} (${source})`;
  if (!key.secret) {
    return `${subject}: only secret keys can be read through _${via} (as in Airflow); set ${key.key} itself`;
  }
  if (via === 'secret') {
    return (
      `${subject}: apimeter has no secrets backend (Airflow's [secrets] backend is not read); ` +
      `use ${key.key}_cmd with a command that prints the value, or pass the option ${key.option} from your own secrets client`
    );
  }
  const cp = nodeBuiltin<typeof ChildProcess>('node:child_process');
  if (cp === undefined) return `${subject}: this runtime cannot run commands; pass the option ${key.option}`;
  const command = value.trim();
  if (command === '') return `${subject}: expected a command`;
  const r = cp.spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  if (r.error !== undefined) {
    const why = (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'timed out after 10 s' : r.error.message;
    return `${subject}: the command failed: ${why}`;
  }
  if (r.status !== 0) {
    const err = (r.stderr ?? '').trim().split('\n')[0]?.slice(0, 200) ?? '';
    return `${subject}: the command exited with ${r.status ?? r.signal}${err === '' ? '' : `: ${err}`}`;
  }
  const out = (r.stdout ?? '').replace(/\r?\n$/, '');
  if (out === '') return `${subject}: the command printed nothing`;
  return { key, value: out, source: `${source} (${key.key}_cmd)`, fromText: true };
}
