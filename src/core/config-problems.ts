import { CONFIG_KEYS, keyByOption, type InternalKey } from './config-keys.js';

/**
 * The configuration's problem lines, one format for every source: `[section] key = "value" (source):
 * expected …`, unknown keys with the nearest known one, and what a source reader yields.
 */

const MAX_SHOWN_VALUE = 120;

/** One value from one source, not yet validated. `source` reads "apimeter.ini:3", "env APIMETER__…", "option x". */
export interface Setting {
  key: InternalKey;
  value: unknown;
  source: string;
  /** INI and environment values are text; options carry JS values. */
  fromText: boolean;
}
/** A reader yields settings, problems found while reading (plain strings), and notices (Airflow keys ignored). */
export type ReadItem = Setting | string | { notice: string };

export function showValue(value: unknown, secret: boolean): string {
  if (secret) return '"***"';
  // Numbers as JS prints them (JSON would turn NaN into null); strings, lists and objects as JSON.
  const json = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  return json.length > MAX_SHOWN_VALUE ? `${json.slice(0, MAX_SHOWN_VALUE)}…` : json;
}

export function valueProblem({ key, value, source, fromText }: Setting, note: string): string {
  const spellings = key.type === 'boolean' && fromText ? ' (true/false, t/f, 1/0, yes/no, on/off)' : '';
  const shown = showValue(value, key.secret);
  return `[${key.section}] ${key.key} = ${shown} (${source}): expected ${key.expected}${spellings}${note}`;
}

export const bullets = (lines: readonly string[]): string => lines.map((line) => `  - ${line}`).join('\n');

/** Names the key as it is spelled in the source the mistake came from. */
type Spelling = 'ini' | 'env' | 'option';

function spell(key: InternalKey, spelling: Spelling): string {
  if (spelling === 'env') return key.env;
  if (spelling === 'option') return key.option;
  return `[${key.section}] ${key.key}`;
}

/** `where` is the line's opening: "[api] foo (apimeter.ini:3)", "option foo". */
export function unknownKeyProblem(where: string, typed: string, spelling: Spelling, known: string[]): string {
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

export function levenshtein(a: string, b: string): number {
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

export const keysOf = (section: string): string[] => CONFIG_KEYS.filter((k) => k.section === section).map((k) => k.key);
