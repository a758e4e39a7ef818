import * as v from 'valibot';
import { createError } from '../errors.js';
import {
  CONFIG_KEYS,
  CONFIG_SECTIONS,
  keyByOption,
  keyBySectionKey,
  type ApimeterConfig,
  type ApimeterOptions,
  type ConfigValue,
  type ConfigValueType,
} from './config-keys.js';
import { hostEnv } from './runtime.js';
import { airflowNotice, indirectKey, isAirflowOnlyKey, resolveIndirect } from './config-airflow.js';
import { readIni } from './config-ini.js';
import { bullets, keysOf, showValue, unknownKeyProblem, valueProblem } from './config-problems.js';
import type { ReadItem, Setting } from './config-problems.js';

export { CONFIG_KEYS, envVarName } from './config-keys.js';
export type {
  ApimeterConfig,
  ApimeterOptions,
  ConfigKey,
  ConfigOption,
  ConfigSection,
  ConfigValue,
  ConfigValueType,
} from './config-keys.js';

export interface LoadConfigInput {
  /** Options passed in code; highest precedence. */
  options?: ApimeterOptions;
  /** Environment to read `APIMETER__SECTION__KEY` and `APIMETER_CONFIG` from; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** INI file to read (must exist); `false` reads none. Default: `$APIMETER_CONFIG`, else `./apimeter.ini` if present. */
  iniPath?: string | false;
  /** Directory relative paths are resolved against; default `process.cwd()`. */
  cwd?: string;
  /**
   * Told, in one line, about Airflow keys of a shared `airflow.cfg` that apimeter does not use
   * (`statsd_ipv6`, `[api] port`, …). Default: console.warn.
   */
  onNotice?: (line: string) => void;
}

const ENV_PREFIX = 'APIMETER__';

/**
 * Builds the configuration from defaults < INI file < environment < options, validates every value
 * and returns it frozen. Throws APIMETER_ERR_CONFIG_INVALID listing every problem at once, or
 * APIMETER_ERR_CONFIG_FILE when the INI file cannot be read.
 *
 * @example
 * const config = loadConfig({ options: { metricsSampleRate: 0.1 } });
 * config.metricsSampleRate; // 0.1 unless that option is absent; then env, then apimeter.ini, then 1
 */
export function loadConfig(input: LoadConfigInput = {}): ApimeterConfig {
  const env = input.env ?? hostEnv();
  const items = [...readIni(input.iniPath, env, input.cwd), ...readEnv(env), ...readOptions(input.options)];

  const problems: string[] = [];
  const ignored: string[] = [];
  const values = new Map<string, ConfigValue>();
  for (const item of items) {
    if (typeof item === 'string') {
      problems.push(item);
      continue;
    }
    if ('notice' in item) {
      ignored.push(item.notice);
      continue;
    }
    const parsed = parseSetting(item);
    if ('problem' in parsed) problems.push(parsed.problem);
    // Later sources come later in `items`, so they overwrite: that is the precedence.
    else values.set(item.key.option, parsed.value);
  }
  if (problems.length > 0) {
    const count = problems.length === 1 ? '1 configuration problem' : `${problems.length} configuration problems`;
    throw createError('APIMETER_ERR_CONFIG_INVALID', `${count}:\n${bullets(problems)}`, problems);
  }
  const notice = airflowNotice(ignored);
  if (notice !== null) (input.onNotice ?? console.warn)(notice);
  const entries = CONFIG_KEYS.map((k) => [k.option, freezeValue(values.get(k.option) ?? k.default)]);
  return Object.freeze(Object.fromEntries(entries)) as ApimeterConfig;
}

// ---------------------------------------------------------------------------------------------
// Turning a raw value into a typed one

// Airflow's conf.getboolean takes t/true/1 and f/false/0 (case-insensitive); yes/no and on/off are apimeter's own.
const TRUTHY = ['true', 't', '1', 'yes', 'on'];
const FALSY = ['false', 'f', '0', 'no', 'off'];
// Finite decimal notation only: no hex, no "Infinity", no empty string (Number('') is 0); "1e999" overflows.
const DECIMAL_TEXT = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/),
  v.transform(Number),
  v.finite(),
);

const splitList = (text: string): string[] =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

const FROM_TEXT: Record<ConfigValueType, v.GenericSchema<unknown, ConfigValue>> = {
  // Case-insensitive, as Airflow's getboolean.
  boolean: v.pipe(
    v.string(),
    v.trim(),
    v.toLowerCase(),
    v.picklist([...TRUTHY, ...FALSY]),
    v.transform((text) => TRUTHY.includes(text)),
  ),
  number: DECIMAL_TEXT,
  integer: DECIMAL_TEXT,
  string: v.string(),
  list: v.pipe(v.string(), v.transform(splitList)),
};

const FROM_OPTION: Record<ConfigValueType, v.GenericSchema<unknown, ConfigValue>> = {
  boolean: v.boolean(),
  number: v.pipe(v.number(), v.finite()),
  integer: v.pipe(v.number(), v.finite()),
  string: v.string(),
  list: v.union([
    v.pipe(v.string(), v.transform(splitList)),
    v.pipe(
      v.array(v.string()),
      v.transform((a) => splitList(a.join(','))),
    ),
  ]),
};

/** The typed value, or the problem line saying why there is none. */
function parseSetting(setting: Setting): { value: ConfigValue } | { problem: string } {
  const { key, value, fromText } = setting;
  const shaped = v.safeParse((fromText ? FROM_TEXT : FROM_OPTION)[key.type], value);
  if (!shaped.success) return { problem: valueProblem(setting, fromText ? '' : typeNote(key.type, value)) };
  const checked = v.safeParse(key.schema, shaped.output);
  if (!checked.success)
    return { problem: valueProblem(setting, badItemNote(checked.issues, shaped.output, key.secret)) };
  return { value: checked.output };
}

function typeNote(type: ConfigValueType, value: unknown): string {
  const wanted = { boolean: 'boolean', number: 'number', integer: 'number', string: 'string', list: 'string' }[type];
  if (typeof value === wanted || (type === 'list' && Array.isArray(value))) return '';
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  return ` (got ${got})`;
}

function badItemNote(issues: readonly v.BaseIssue<unknown>[], data: ConfigValue, secret: boolean): string {
  const index = issues[0]?.path?.[0]?.key;
  if (!Array.isArray(data) || typeof index !== 'number' || secret) return '';
  return ` (bad item: ${JSON.stringify(data[index])})`;
}

function freezeValue(value: ConfigValue): ConfigValue {
  return Array.isArray(value) ? Object.freeze([...(value as string[])]) : value;
}

// ---------------------------------------------------------------------------------------------
// Sources

function readOptions(options: ApimeterOptions | undefined): ReadItem[] {
  if (options === undefined) return [];
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return [`options = ${showValue(options, false)} (options): expected an object of camelCase keys`];
  }
  const items: ReadItem[] = [];
  for (const [name, value] of Object.entries(options)) {
    const key = keyByOption.get(name);
    const source = `option ${name}`;
    if (key === undefined) {
      const known = CONFIG_KEYS.map((k) => k.option);
      items.push(unknownKeyProblem(source, name, 'option', known));
    } else if (value !== undefined) {
      items.push({ key, value, source, fromText: false });
    }
  }
  return items;
}

function readEnv(env: Record<string, string | undefined>): ReadItem[] {
  const items: ReadItem[] = [];
  const indirects: ReadItem[] = [];
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const source = `env ${name}`;
    const parts = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      items.push(`${name} (${source}): not a configuration variable; expected APIMETER__<SECTION>__<KEY>`);
      continue;
    }
    const [section, keyName] = parts;
    const key = keyBySectionKey.get(`${section}.${keyName}`);
    const indirect = key === undefined && !isAirflowOnlyKey(section, keyName) ? indirectKey(section, keyName) : null;
    if (key !== undefined) {
      items.push({ key, value, source, fromText: true });
    } else if (indirect !== null) {
      // The variable itself wins over its _CMD / _SECRET, as in Airflow: those are read only when it is unset.
      if (env[indirect.key.env] === undefined)
        indirects.push(resolveIndirect(indirect.key, indirect.via, value, source));
    } else if (isAirflowOnlyKey(section, keyName)) {
      items.push({ notice: `[${section}] ${keyName}` });
    } else if (!(CONFIG_SECTIONS as readonly string[]).includes(section)) {
      items.push(
        `[${section}] ${keyName} (${source}): unknown section "${section}"; known sections: ${CONFIG_SECTIONS.join(', ')}`,
      );
    } else {
      items.push(unknownKeyProblem(`[${section}] ${keyName} (${source})`, keyName, 'env', keysOf(section)));
    }
  }
  return [...indirects, ...items];
}
