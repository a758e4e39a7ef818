import { unsafe as iniUnescape } from 'ini';
import { createError } from '../errors.js';
import { CONFIG_KEYS, CONFIG_SECTIONS, keyBySectionKey } from './config-keys.js';
import { indirectKey, isAirflowOnlyKey, resolveIndirect } from './config-airflow.js';
import { bullets, keysOf, levenshtein, unknownKeyProblem } from './config-problems.js';
import type { ReadItem } from './config-problems.js';
import { nodeFiles } from './runtime.js';

/** The INI file (`apimeter.ini`: `[api]`, `[metrics]`, `[alerts]`): finding it, reading it, parsing it line by line. */

const DEFAULT_INI_FILE = 'apimeter.ini';
const ENV_CONFIG_FILE = 'APIMETER_CONFIG';

interface IniFile {
  file: string;
  /** Why this file is read: shown when it is missing. */
  origin: string;
  required: boolean;
}

/** Which file to read, as named (relative to the working directory); undefined for none. */
function locateIni(iniPath: string | false | undefined, env: Record<string, string | undefined>): IniFile | undefined {
  if (iniPath === false) return undefined;
  if (iniPath !== undefined) return { file: iniPath, origin: 'option iniPath', required: true };
  const fromEnv = env[ENV_CONFIG_FILE];
  if (fromEnv) return { file: fromEnv, origin: `env ${ENV_CONFIG_FILE}`, required: true };
  return { file: DEFAULT_INI_FILE, origin: 'default', required: false };
}

/** A path as the user would recognise it: relative to cwd when inside it. */
function displayPath(path: NodePath, file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

type NodePath = NonNullable<ReturnType<typeof nodeFiles>>['path'];

/**
 * The INI file's settings. The file system comes from the runtime (see runtime.ts): where there is
 * none, the default file is skipped and a file named by option or environment is an error.
 */
export function readIni(
  iniPath: string | false | undefined,
  env: Record<string, string | undefined>,
  cwdOption: string | undefined,
): ReadItem[] {
  const named = locateIni(iniPath, env);
  if (named === undefined) return [];
  const files = nodeFiles();
  if (files === undefined) {
    if (!named.required) return [];
    const why = 'no file system on this runtime; pass the settings as options';
    throw createError('APIMETER_ERR_CONFIG_FILE', `cannot read ${named.file}: ${why}`, [`${named.file}: ${why}`]);
  }
  const { fs, path } = files;
  const cwd = cwdOption ?? files.cwd;
  const ini = { ...named, file: path.resolve(cwd, named.file) };
  const shown = displayPath(path, ini.file, cwd);
  let text: string;
  try {
    text = fs.readFileSync(ini.file, 'utf8');
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
  // `key_cmd` / `key_secret` lines (Airflow's indirection), resolved after the file is read.
  const indirect: { section: string; keyName: string; value: string; at: string }[] = [];
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
      if (key === undefined) {
        if (indirectKey(section, keyName) !== null && !isAirflowOnlyKey(section, keyName)) {
          indirect.push({ section, keyName, value: iniUnescape(line.slice(equals + 1)), at });
        } else if (isAirflowOnlyKey(section, keyName)) items.push({ notice: subject });
        else items.push(unknownKeyProblem(`${subject} (${at})`, keyName, 'ini', keysOf(section)));
      } else if (earlier !== undefined) items.push(`${subject} (${at}): duplicate key; first set on line ${earlier}`);
      else items.push({ key, value: iniUnescape(line.slice(equals + 1)), source: at, fromText: true });
    });
  closeForeign();
  if (syntaxErrors.length > 0) throw fileError(syntaxErrors);
  // The key itself wins over its _cmd / _secret in the same file, as in Airflow: those run only when it is absent.
  const resolved: ReadItem[] = [];
  for (const line of indirect) {
    const { key, via } = indirectKey(line.section, line.keyName)!;
    if (firstLine.has(`${key.section}.${key.key}`)) continue;
    resolved.push(resolveIndirect(key, via, line.value, line.at));
  }
  return [...resolved, ...items];
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
