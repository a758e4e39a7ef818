import { readFileSync } from 'node:fs';
import path from 'node:path';
import { unsafe as iniUnescape } from 'ini';
import { z } from 'zod';
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
  type InternalKey,
} from './config-keys.js';

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
}

const DEFAULT_INI_FILE = 'apimeter.ini';
const ENV_CONFIG_FILE = 'APIMETER_CONFIG';
const ENV_PREFIX = 'APIMETER__';
const MAX_SHOWN_VALUE = 120;

/** One value from one source, not yet validated. `source` reads "apimeter.ini:3", "env APIMETER__…", "option x". */
interface Setting {
  key: InternalKey;
  value: unknown;
  source: string;
  /** INI and environment values are text; options carry JS values. */
  fromText: boolean;
}
/** A reader yields settings and, as plain strings, problems found while reading. */
type ReadItem = Setting | string;

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
  const cwd = input.cwd ?? process.cwd();
  const env = input.env ?? process.env;
  const items = [...readIni(input.iniPath, env, cwd), ...readEnv(env), ...readOptions(input.options)];

  const problems: string[] = [];
  const values = new Map<string, ConfigValue>();
  for (const item of items) {
    if (typeof item === 'string') {
      problems.push(item);
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
  const entries = CONFIG_KEYS.map((k) => [k.option, freezeValue(values.get(k.option) ?? k.default)]);
  return Object.freeze(Object.fromEntries(entries)) as ApimeterConfig;
}

// ---------------------------------------------------------------------------------------------
// Turning a raw value into a typed one

const TRUTHY = ['true', '1', 'yes', 'on'];
const FALSY = ['false', '0', 'no', 'off'];
// Finite decimal notation only: no hex, no "Infinity", no empty string (Number('') is 0).
const DECIMAL_TEXT = z
  .string()
  .trim()
  .regex(/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/)
  .transform(Number);

const splitList = (text: string): string[] =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

const FROM_TEXT: Record<ConfigValueType, z.ZodType<ConfigValue>> = {
  boolean: z
    .string()
    .trim()
    .pipe(z.stringbool({ truthy: TRUTHY, falsy: FALSY })),
  number: DECIMAL_TEXT,
  integer: DECIMAL_TEXT,
  string: z.string(),
  list: z.string().transform(splitList),
};

const FROM_OPTION: Record<ConfigValueType, z.ZodType<ConfigValue>> = {
  boolean: z.boolean(),
  number: z.number(),
  integer: z.number(),
  string: z.string(),
  list: z.union([z.string().transform(splitList), z.array(z.string()).transform((a) => splitList(a.join(',')))]),
};

/** The typed value, or the problem line saying why there is none. */
function parseSetting(setting: Setting): { value: ConfigValue } | { problem: string } {
  const { key, value, fromText } = setting;
  const shaped = (fromText ? FROM_TEXT : FROM_OPTION)[key.type].safeParse(value);
  if (!shaped.success) return { problem: valueProblem(setting, fromText ? '' : typeNote(key.type, value)) };
  const checked = key.schema.safeParse(shaped.data);
  if (!checked.success) return { problem: valueProblem(setting, badItemNote(checked.error, shaped.data, key.secret)) };
  return { value: checked.data };
}

function typeNote(type: ConfigValueType, value: unknown): string {
  const wanted = { boolean: 'boolean', number: 'number', integer: 'number', string: 'string', list: 'string' }[type];
  if (typeof value === wanted || (type === 'list' && Array.isArray(value))) return '';
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  return ` (got ${got})`;
}

function badItemNote(error: z.ZodError, data: ConfigValue, secret: boolean): string {
  const index = error.issues[0]?.path[0];
  if (!Array.isArray(data) || typeof index !== 'number' || secret) return '';
  return ` (bad item: ${JSON.stringify(data[index])})`;
}

function freezeValue(value: ConfigValue): ConfigValue {
  return Array.isArray(value) ? Object.freeze([...(value as string[])]) : value;
}

// ---------------------------------------------------------------------------------------------
// Problem lines: "[section] key = "value" (source): expected …"

function showValue(value: unknown, secret: boolean): string {
  if (secret) return '"***"';
  // Numbers as JS prints them (JSON would turn NaN into null); strings, lists and objects as JSON.
  const json = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  return json.length > MAX_SHOWN_VALUE ? `${json.slice(0, MAX_SHOWN_VALUE)}…` : json;
}

function valueProblem({ key, value, source, fromText }: Setting, note: string): string {
  const spellings = key.type === 'boolean' && fromText ? ' (true/false, 1/0, yes/no, on/off)' : '';
  const shown = showValue(value, key.secret);
  return `[${key.section}] ${key.key} = ${shown} (${source}): expected ${key.expected}${spellings}${note}`;
}

const bullets = (lines: readonly string[]): string => lines.map((line) => `  - ${line}`).join('\n');

/** Names the key as it is spelled in the source the mistake came from. */
type Spelling = 'ini' | 'env' | 'option';

function spell(key: InternalKey, spelling: Spelling): string {
  if (spelling === 'env') return key.env;
  if (spelling === 'option') return key.option;
  return `[${key.section}] ${key.key}`;
}

/** `where` is the line's opening: "[api] foo (apimeter.ini:3)", "option foo". */
function unknownKeyProblem(where: string, typed: string, spelling: Spelling, known: string[]): string {
  const near = closest(typed, spelling);
  const hint = near ? `did you mean ${spell(near, spelling)}? ` : '';
  return `${where}: unknown key; ${hint}known keys: ${known.join(', ')}`;
}

/** The key whose name is nearest to `typed` (case, "_" and "-" ignored), if it is near enough to be a typo. */
function closest(typed: string, spelling: Spelling): InternalKey | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const target = norm(typed);
  let best: InternalKey | undefined;
  let bestDistance = Math.max(2, Math.floor(target.length / 4)) + 1;
  for (const key of keyByOption.values()) {
    const name = spelling === 'option' ? key.option : key.key;
    const distance = levenshtein(target, norm(name));
    if (distance < bestDistance) [best, bestDistance] = [key, distance];
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

const keysOf = (section: string): string[] => CONFIG_KEYS.filter((k) => k.section === section).map((k) => k.key);

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
    if (key !== undefined) {
      items.push({ key, value, source, fromText: true });
    } else if (!(CONFIG_SECTIONS as readonly string[]).includes(section)) {
      items.push(
        `[${section}] ${keyName} (${source}): unknown section "${section}"; known sections: ${CONFIG_SECTIONS.join(', ')}`,
      );
    } else {
      items.push(unknownKeyProblem(`[${section}] ${keyName} (${source})`, keyName, 'env', keysOf(section)));
    }
  }
  return items;
}

interface IniFile {
  file: string;
  /** Why this file is read: shown when it is missing. */
  origin: string;
  required: boolean;
}

function locateIni(
  iniPath: string | false | undefined,
  env: Record<string, string | undefined>,
  cwd: string,
): IniFile | undefined {
  if (iniPath === false) return undefined;
  if (iniPath !== undefined) return { file: path.resolve(cwd, iniPath), origin: 'option iniPath', required: true };
  const fromEnv = env[ENV_CONFIG_FILE];
  if (fromEnv) return { file: path.resolve(cwd, fromEnv), origin: `env ${ENV_CONFIG_FILE}`, required: true };
  return { file: path.resolve(cwd, DEFAULT_INI_FILE), origin: 'default', required: false };
}

/** A path as the user would recognise it: relative to cwd when inside it. */
function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

function readIni(
  iniPath: string | false | undefined,
  env: Record<string, string | undefined>,
  cwd: string,
): ReadItem[] {
  const ini = locateIni(iniPath, env, cwd);
  if (ini === undefined) return [];
  const shown = displayPath(ini.file, cwd);
  let text: string;
  try {
    text = readFileSync(ini.file, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT' && !ini.required) return [];
    const why = code === 'ENOENT' ? `file not found (named by ${ini.origin})` : message;
    throw createError('APIMETER_ERR_CONFIG_FILE', `cannot read ${shown}: ${why}`, [`${shown}: ${why}`]);
  }
  return parseIni(text, shown);
}

/**
 * Reads the [api], [metrics] and [alerts] sections line by line, so each value keeps its line number.
 * Values are unquoted and stripped of `;`/`#` comments by the `ini` package's own rules.
 */
function parseIni(text: string, shown: string): ReadItem[] {
  const fileError = (problems: string[]) =>
    createError('APIMETER_ERR_CONFIG_FILE', `cannot parse ${shown}:\n${bullets(problems)}`, problems);
  if (text.includes('\0')) throw fileError([`${shown}: not a text file`]);

  const items: ReadItem[] = [];
  const syntaxErrors: string[] = [];
  const firstLine = new Map<string, number>();
  let section: string | undefined;
  // A section apimeter does not read that looks meant for it: its header line, and the known keys in it.
  let foreign: { name: string; at: string; keys: string[] } | null = null;
  const closeForeign = () => {
    if (foreign !== null) {
      const problem = misspelledSectionProblem(foreign.name, foreign.at, foreign.keys);
      if (problem !== null) items.push(problem);
    }
    foreign = null;
  };
  text
    .replace(/^\uFEFF/, '')
    .split(/\r\n|\r|\n/)
    .forEach((line, index) => {
      const at = `${shown}:${index + 1}`;
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) return;
      if (trimmed.startsWith('[')) {
        const header = /^\[([^\]]*)\]\s*(?:[;#].*)?$/.exec(trimmed);
        closeForeign();
        if (header) {
          section = iniUnescape(header[1]).trim().toLowerCase();
          if (!(CONFIG_SECTIONS as readonly string[]).includes(section)) foreign = { name: section, at, keys: [] };
        } else syntaxErrors.push(`${at}: malformed section header`);
        return;
      }
      if (section === undefined || !(CONFIG_SECTIONS as readonly string[]).includes(section)) {
        const equals = line.indexOf('=');
        const keyName = equals > 0 ? iniUnescape(line.slice(0, equals)).toLowerCase() : '';
        if (foreign !== null && KNOWN_KEY_NAMES.has(keyName)) foreign.keys.push(keyName);
        return;
      }
      const equals = line.indexOf('=');
      const keyName = equals > 0 ? iniUnescape(line.slice(0, equals)).toLowerCase() : '';
      // The line itself is not echoed: it may hold a secret.
      if (keyName === '') {
        syntaxErrors.push(`${at}: expected "key = value" in [${section}]`);
        return;
      }
      const subject = `[${section}] ${keyName}`;
      const key = keyBySectionKey.get(`${section}.${keyName}`);
      const earlier = firstLine.get(`${section}.${keyName}`);
      firstLine.set(`${section}.${keyName}`, earlier ?? index + 1);
      if (key === undefined) items.push(unknownKeyProblem(`${subject} (${at})`, keyName, 'ini', keysOf(section)));
      else if (earlier !== undefined) items.push(`${subject} (${at}): duplicate key; first set on line ${earlier}`);
      else items.push({ key, value: iniUnescape(line.slice(equals + 1)), source: at, fromText: true });
    });
  closeForeign();
  if (syntaxErrors.length > 0) throw fileError(syntaxErrors);
  return items;
}

const KNOWN_KEY_NAMES = new Set(CONFIG_KEYS.map((k) => k.key));

/**
 * Other sections are ignored (the file may be shared, `airflow.cfg`-style), unless one holds apimeter's
 * keys under a name that is a near miss of ours (`[metric]`, `[apis]`) or names apimeter (`[apimeter]`):
 * that is a typo, refused like an unknown key in a known section.
 */
function misspelledSectionProblem(name: string, at: string, keys: readonly string[]): string | null {
  if (keys.length === 0) return null;
  const norm = name.replace(/[_\-\s]/g, '');
  let near: string | undefined;
  for (const known of CONFIG_SECTIONS) {
    if (levenshtein(norm, known) <= Math.max(1, Math.floor(known.length / 3))) near = known;
  }
  if (near === undefined && !norm.includes('apimeter')) return null;
  // Where the keys it holds belong: the section to suggest when the name alone does not say.
  const home = near ?? CONFIG_KEYS.find((k) => k.key === keys[0])!.section;
  return (
    `[${name}] (${at}): unknown section; did you mean [${home}]? It holds ${unique(keys).join(', ')}, ` +
    `read only from their own section; known sections: ${CONFIG_SECTIONS.join(', ')}`
  );
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs)];
