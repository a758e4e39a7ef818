import { readFileSync } from 'node:fs';
import type * as Yaml from 'yaml';
import { requireOptional } from '../core/optional-require.js';
import * as v from 'valibot';
import type { ApimeterConfig } from '../core/config.js';
import { createError } from '../errors.js';
import { isMissingKeyIssue, isUnknownKeyIssue, mapping, missingText, PARSE_CONFIG } from '../core/issue-text.js';
import { formatDuration, parseDuration } from './duration.js';
import { globsMatcher } from './glob.js';
import { SIGNALS } from './signals.js';
import type { SignalName } from './signals.js';
import type { SloDefinition } from './slo-types.js';

export type Severity = 'page' | 'ticket' | 'info';

/** A validated, frozen alert rule. */
export interface AlertRule {
  readonly name: string;
  /** Globs over `METHOD /template`. */
  readonly endpoints: readonly string[];
  readonly matches: (endpoint: string) => boolean;
  /** Set: the matched endpoints are merged into one instance named after the group. */
  readonly group: string | null;
  readonly signal: SignalName;
  readonly windowMs: number;
  readonly op: 'above' | 'below';
  readonly threshold: number;
  readonly forMs: number;
  readonly keepFiringForMs: number;
  /** Requests the window needs before the rule judges it. */
  readonly minRequests: number;
  readonly severity: Severity;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** `apdex`: the target T (ms); null = the endpoint's T (`apdex:` targets, else `[alerts] apdex_t_ms`). */
  readonly apdexTMs: number | null;
  /** `slo_burn_rate`: the SLO's name. */
  readonly slo: string | null;
  /** `slo_burn_rate`: the short window that must burn too (multi-window alerts); null = none. */
  readonly shortWindowMs: number | null;
  /** `traffic_anomaly`: what is compared with its baseline. */
  readonly baseline: 'request_rate' | 'latency_p95';
  /** Where it came from: the rules file, a default rule, or generated from an SLO. */
  readonly origin: 'file' | 'default' | 'slo';
}

export interface ApdexTarget {
  readonly endpoints: readonly string[];
  readonly matches: (endpoint: string) => boolean;
  readonly tMs: number;
}

export interface RuleSet {
  readonly rules: readonly AlertRule[];
  readonly slos: readonly SloDefinition[];
  readonly apdex: readonly ApdexTarget[];
}

/** The `[alerts]` settings default rules and Apdex depend on. */
export interface RuleDefaults {
  defaultRules: boolean;
  errorRateThreshold: number;
  p95ThresholdMs: number;
  authFailureThreshold: number;
  anomalyThreshold: number;
  anomalyMinRequests: number;
}

/** The `[alerts]` keys default rules read. */
export function ruleDefaultsOf(c: ApimeterConfig): RuleDefaults {
  return {
    defaultRules: c.alertsDefaultRules,
    errorRateThreshold: c.alertsErrorRateThreshold,
    p95ThresholdMs: c.alertsP95ThresholdMs,
    authFailureThreshold: c.alertsAuthFailureThreshold,
    anomalyThreshold: c.alertsAnomalyThreshold,
    anomalyMinRequests: c.alertsAnomalyMinRequests,
  };
}

const MIN_WINDOW = 60_000;
const MAX_WINDOW = 30 * 86_400_000;
const NAME = /^[A-Za-z_][A-Za-z0-9_:.-]*$/;
const LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;

const WINDOW_EXPECTED = 'a duration from 1m to 30d, such as 5m, 1h or 7d';
const DURATION_EXPECTED = 'a duration of 0s or more, such as 0s, 2m or 1h';

const duration = (expected: string, min: number, max: number) =>
  v.pipe(
    v.string(expected),
    v.check((s) => {
      const ms = parseDuration(s);
      return ms >= min && ms <= max;
    }, expected),
  );
/** A finite number (YAML's `.inf` and `.nan` are not taken). */
const number = (expected: string) => v.pipe(v.number(expected), v.finite(expected));

const GLOBS = 'a glob over "METHOD /template" (e.g. "* /api/v2/dags/*") or a list of them';
const GLOB = v.pipe(v.string(GLOBS), v.minLength(1, GLOBS));
const ENDPOINTS = v.union([GLOB, v.pipe(v.array(GLOB, GLOBS), v.minLength(1, GLOBS))], GLOBS);
const LABELS = v.pipe(
  mapping('a map of label names to strings'),
  v.record(
    v.pipe(v.string(), v.regex(LABEL, 'label names of letters, digits and _ (not starting with a digit)')),
    v.string('label values that are strings'),
  ),
);
const ANNOTATIONS = v.pipe(
  mapping('a map of annotation names to strings'),
  v.record(v.string(), v.string('annotation texts that are strings')),
);

const RULE_ENTRIES = {
  name: v.pipe(v.string('a rule name'), v.regex(NAME, 'a name of letters, digits, _ : . - (e.g. HighErrorRate)')),
  endpoints: v.optional(ENDPOINTS),
  group: v.optional(v.pipe(v.string('a group name (a string)'), v.minLength(1, 'a group name (a string)'))),
  signal: v.picklist(SIGNALS, `one of the signals: ${SIGNALS.join(', ')}`),
  window: duration(WINDOW_EXPECTED, MIN_WINDOW, MAX_WINDOW),
  above: v.optional(number('a number')),
  below: v.optional(number('a number')),
  for: v.optional(duration(DURATION_EXPECTED, 0, MAX_WINDOW)),
  keep_firing_for: v.optional(duration(DURATION_EXPECTED, 0, MAX_WINDOW)),
  min_requests: v.optional(
    v.pipe(
      number('a whole number of 0 or more'),
      v.safeInteger('a whole number of 0 or more'),
      v.minValue(0, 'a whole number of 0 or more'),
    ),
  ),
  severity: v.optional(v.picklist(['page', 'ticket', 'info'], 'page, ticket or info')),
  labels: v.optional(LABELS),
  annotations: v.optional(ANNOTATIONS),
  apdex_t_ms: v.optional(
    v.pipe(number('a number of milliseconds above 0'), v.gtValue(0, 'a number of milliseconds above 0')),
  ),
  slo: v.optional(v.string('the name of an SLO in this file')),
  short_window: v.optional(duration(WINDOW_EXPECTED, MIN_WINDOW, MAX_WINDOW)),
  baseline: v.optional(v.picklist(['request_rate', 'latency_p95'], 'request_rate or latency_p95')),
};
const RULE = v.pipe(mapping('a mapping of rule fields (name:, signal:, window:, …)'), v.strictObject(RULE_ENTRIES));

const SLO_ENTRIES = {
  name: v.pipe(v.string('an SLO name'), v.regex(NAME, 'a name of letters, digits, _ : . - (e.g. dags-availability)')),
  description: v.optional(v.string('a string')),
  endpoints: v.optional(ENDPOINTS),
  sli: v.picklist(['availability', 'latency'], 'availability or latency'),
  objective: v.pipe(
    number('a percentage above 0 and below 100, such as 99.9'),
    v.gtValue(0, 'a percentage above 0 and below 100, such as 99.9'),
    v.ltValue(100, 'a percentage above 0 and below 100, such as 99.9'),
  ),
  threshold_ms: v.optional(
    v.pipe(number('a number of milliseconds above 0'), v.gtValue(0, 'a number of milliseconds above 0')),
  ),
  period: v.optional(duration('a duration from 1h to 90d, such as 30d', 3_600_000, 90 * 86_400_000)),
  count_4xx_as_bad: v.optional(v.boolean('true or false')),
  count_499_as_bad: v.optional(v.boolean('true or false')),
  alerting: v.optional(v.boolean('true or false')),
  labels: v.optional(LABELS),
};
const SLO = v.pipe(mapping('a mapping of SLO fields (name:, sli:, objective:, …)'), v.strictObject(SLO_ENTRIES));

const APDEX_ENTRIES = {
  endpoints: ENDPOINTS,
  t_ms: v.pipe(number('a number of milliseconds above 0'), v.gtValue(0, 'a number of milliseconds above 0')),
};
const APDEX = v.pipe(mapping('a mapping { endpoints, t_ms }'), v.strictObject(APDEX_ENTRIES));

const FILE_ENTRIES = {
  rules: v.optional(v.array(RULE, 'a list of rules')),
  slos: v.optional(v.array(SLO, 'a list of SLOs')),
  apdex: v.optional(v.array(APDEX, 'a list of { endpoints, t_ms }')),
};
const FILE = v.pipe(mapping('a YAML mapping with rules:, slos: and/or apdex:'), v.strictObject(FILE_ENTRIES));

type RuleInput = v.InferOutput<typeof RULE>;
type SloInput = v.InferOutput<typeof SLO>;

const RULE_KEYS = Object.keys(RULE_ENTRIES);
const SLO_KEYS = Object.keys(SLO_ENTRIES);
const FILE_KEYS = Object.keys(FILE_ENTRIES);
const APDEX_KEYS = Object.keys(APDEX_ENTRIES);

/** The fields of each list's entries, for the problem lines of missing fields. */
const ENTRIES: Record<string, Record<string, v.GenericSchema>> = {
  rules: RULE_ENTRIES,
  slos: SLO_ENTRIES,
  apdex: APDEX_ENTRIES,
};

/** Levenshtein distance, for did-you-mean hints on misspelled fields. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function suggest(key: string, known: readonly string[]): string {
  const best = known
    .map((k) => [k, distance(key, k)] as const)
    .filter(([k, d]) => d <= Math.max(2, Math.floor(k.length / 3)))
    .sort((a, b) => a[1] - b[1])[0];
  return best === undefined ? '' : `; did you mean ${best[0]}?`;
}

function shown(value: unknown): string {
  if (value === undefined) return '(missing)';
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function at(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** `rule "HighErrorRate"` (or `rules[3]` when it has no usable name). */
function subject(input: unknown, list: string, index: number): string {
  const name = at(input, [list, index, 'name']);
  const kind = list === 'rules' ? 'rule' : list === 'slos' ? 'SLO' : 'apdex target';
  return typeof name === 'string' && name !== '' ? `${kind} "${name}"` : `${list}[${index}]`;
}

function fieldProblems(input: unknown, issues: readonly v.BaseIssue<unknown>[]): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const path = (issue.path ?? []).map((item) => item.key as PropertyKey);
    const [list, index, ...rest] = path;
    const where = typeof index === 'number' ? subject(input, String(list), index) : 'file';
    if (isUnknownKeyIssue(issue)) {
      // valibot names the first unknown field of a mapping; every one gets its line.
      const parent = path.slice(0, -1);
      const known =
        parent.length === 0 ? FILE_KEYS : list === 'rules' ? RULE_KEYS : list === 'slos' ? SLO_KEYS : APDEX_KEYS;
      const fields = Object.keys(at(input, parent) as object).filter((key) => !known.includes(key));
      for (const key of fields) {
        out.push(`${where}: unknown field "${key}"${suggest(key, known)}; known fields: ${known.join(', ')}`);
      }
      continue;
    }
    const field = typeof index === 'number' ? rest.join('.') : path.join('.');
    // valibot reports a missing field on its mapping; the field's own schema says what it expects.
    const entry = isMissingKeyIssue(issue) ? ENTRIES[String(list)]?.[String(path.at(-1))] : undefined;
    const value = shown(at(input, path));
    out.push(
      `${where}: field ${field || '(top level)'} = ${value}: expected ${entry ? missingText(entry) : issue.message}`,
    );
  }
  return out;
}

const list = (e: string | string[] | undefined): string[] =>
  e === undefined ? ['*'] : typeof e === 'string' ? [e] : e;

function compileRule(r: RuleInput, origin: AlertRule['origin']): AlertRule {
  const endpoints = list(r.endpoints);
  return Object.freeze({
    name: r.name,
    endpoints: Object.freeze(endpoints),
    matches: globsMatcher(endpoints),
    group: r.group ?? (r.signal === 'slo_burn_rate' ? (r.slo ?? null) : null),
    signal: r.signal,
    windowMs: parseDuration(r.window),
    op: r.above !== undefined ? 'above' : 'below',
    threshold: r.above ?? r.below!,
    forMs: r.for === undefined ? 0 : parseDuration(r.for),
    keepFiringForMs: r.keep_firing_for === undefined ? 0 : parseDuration(r.keep_firing_for),
    minRequests: r.min_requests ?? (r.signal === 'inflight' ? 0 : 1),
    severity: r.severity ?? 'ticket',
    labels: Object.freeze({ ...r.labels }),
    annotations: Object.freeze({ ...r.annotations }),
    apdexTMs: r.apdex_t_ms ?? null,
    slo: r.slo ?? null,
    shortWindowMs: r.short_window === undefined ? null : parseDuration(r.short_window),
    baseline: r.baseline ?? 'request_rate',
    origin,
  } satisfies AlertRule);
}

function compileSlo(s: SloInput): SloDefinition {
  const endpoints = list(s.endpoints);
  return Object.freeze({
    name: s.name,
    description: s.description ?? '',
    endpoints: Object.freeze(endpoints),
    matches: globsMatcher(endpoints),
    sli: s.sli,
    objective: s.objective / 100,
    thresholdMs: s.threshold_ms ?? null,
    periodMs: s.period === undefined ? 30 * 86_400_000 : parseDuration(s.period),
    count4xxAsBad: s.count_4xx_as_bad ?? false,
    count499AsBad: s.count_499_as_bad ?? false,
    alerting: s.alerting ?? true,
    labels: Object.freeze({ ...s.labels }),
  });
}

/** Checks what the schema cannot say per field: above xor below, signal-specific fields, names, references. */
function crossProblems(rules: RuleInput[], slos: SloInput[]): string[] {
  const out: string[] = [];
  const sloNames = new Set(slos.map((s) => s.name));
  const seen = new Set<string>();
  for (const r of rules) {
    const who = `rule "${r.name}"`;
    if (seen.has(r.name)) out.push(`${who}: field name = ${shown(r.name)}: expected a name no other rule has`);
    seen.add(r.name);
    if ((r.above === undefined) === (r.below === undefined)) {
      const value = r.above === undefined ? '(neither set)' : `above ${r.above} and below ${r.below}`;
      out.push(`${who}: fields above/below = ${value}: expected exactly one of above or below`);
    }
    if (r.signal === 'slo_burn_rate') {
      if (r.slo === undefined)
        out.push(`${who}: field slo = (missing): expected the name of an SLO in this file (signal slo_burn_rate)`);
      else if (!sloNames.has(r.slo)) {
        const known = [...sloNames].join(', ') || 'none defined';
        out.push(`${who}: field slo = ${shown(r.slo)}: expected the name of an SLO in this file (${known})`);
      }
      if (
        typeof r.short_window === 'string' &&
        typeof r.window === 'string' &&
        parseDuration(r.short_window) >= parseDuration(r.window)
      ) {
        out.push(
          `${who}: field short_window = ${shown(r.short_window)}: expected a duration shorter than window (${r.window})`,
        );
      }
    } else {
      if (r.slo !== undefined)
        out.push(`${who}: field slo = ${shown(r.slo)}: expected no slo (only signal slo_burn_rate takes one)`);
      if (r.short_window !== undefined) {
        out.push(
          `${who}: field short_window = ${shown(r.short_window)}: expected no short_window (only signal slo_burn_rate takes one)`,
        );
      }
    }
    if (r.apdex_t_ms !== undefined && r.signal !== 'apdex') {
      out.push(`${who}: field apdex_t_ms = ${r.apdex_t_ms}: expected no apdex_t_ms (only signal apdex takes one)`);
    }
    if (r.group !== undefined && r.signal === 'traffic_anomaly') {
      out.push(
        `${who}: field group = ${shown(r.group)}: expected no group (traffic_anomaly judges each endpoint against its own baseline)`,
      );
    }
    if (r.group !== undefined && r.signal === 'slo_burn_rate') {
      out.push(`${who}: field group = ${shown(r.group)}: expected no group (slo_burn_rate judges the SLO as a whole)`);
    }
    if (r.baseline !== undefined && r.signal !== 'traffic_anomaly') {
      out.push(
        `${who}: field baseline = ${shown(r.baseline)}: expected no baseline (only signal traffic_anomaly takes one)`,
      );
    }
  }
  const sloSeen = new Set<string>();
  for (const s of slos) {
    const who = `SLO "${s.name}"`;
    if (sloSeen.has(s.name)) out.push(`${who}: field name = ${shown(s.name)}: expected a name no other SLO has`);
    sloSeen.add(s.name);
    if (s.sli === 'latency' && s.threshold_ms === undefined) {
      out.push(`${who}: field threshold_ms = (missing): expected a number of milliseconds above 0 (sli latency)`);
    }
    if (s.sli === 'availability' && s.threshold_ms !== undefined) {
      out.push(`${who}: field threshold_ms = ${s.threshold_ms}: expected no threshold_ms (only sli latency takes one)`);
    }
  }
  return out;
}

/**
 * The multi-window, multi-burn-rate alerts of the SRE workbook for a 30-day period: page when 2 % of
 * the budget burns in 1 h (14.4×, confirmed over 5 m) or 5 % in 6 h (6×, 30 m); ticket when 10 % burns
 * in 1 d (3×, 2 h) or 10 % in 3 d (1×, 6 h). Windows scale with the period (7 d: 1 h → 14 m).
 */
export const BURN_WINDOWS = [
  { factor: 14.4, longMs: 3_600_000, shortMs: 300_000, severity: 'page' },
  { factor: 6, longMs: 6 * 3_600_000, shortMs: 1_800_000, severity: 'page' },
  { factor: 3, longMs: 86_400_000, shortMs: 2 * 3_600_000, severity: 'ticket' },
  { factor: 1, longMs: 3 * 86_400_000, shortMs: 6 * 3_600_000, severity: 'ticket' },
] as const;

const THIRTY_DAYS = 30 * 86_400_000;

/** Burn windows of an SLO's period, scaled from the 30-day ones and rounded to whole minutes (at least 1m). */
export function burnWindows(
  periodMs: number,
): { factor: number; longMs: number; shortMs: number; severity: Severity }[] {
  const scale = (ms: number) => Math.max(MIN_WINDOW, Math.round((ms * periodMs) / THIRTY_DAYS / 60_000) * 60_000);
  return BURN_WINDOWS.map((w) => ({
    factor: w.factor,
    longMs: scale(w.longMs),
    shortMs: scale(w.shortMs),
    severity: w.severity,
  }));
}

function sloRules(slo: SloDefinition): AlertRule[] {
  return burnWindows(slo.periodMs).map((w) =>
    compileRule(
      {
        name: `ErrorBudgetBurn${Math.floor(w.factor)}x`,
        endpoints: slo.endpoints.slice(),
        signal: 'slo_burn_rate',
        slo: slo.name,
        window: formatDuration(w.longMs),
        short_window: formatDuration(w.shortMs),
        above: w.factor,
        severity: w.severity,
        min_requests: 1,
        labels: {
          ...slo.labels,
          slo: slo.name,
          long_window: formatDuration(w.longMs),
          short_window: formatDuration(w.shortMs),
        },
        annotations: {
          summary: `SLO ${slo.name} is burning its error budget at {{value}}x (threshold {{threshold}}x)`,
          description: `Both the ${formatDuration(w.longMs)} and ${formatDuration(w.shortMs)} burn rates of ${slo.name} are above ${w.factor}x; at this rate the budget of the period lasts ${formatDuration(slo.periodMs / w.factor)}.`,
        },
      },
      'slo',
    ),
  );
}

/** The rules apimeter runs unless `[alerts] default_rules = false`. */
export function defaultRules(d: RuleDefaults): AlertRule[] {
  const rules: RuleInput[] = [
    {
      name: 'HighErrorRate',
      signal: 'error_rate_5xx',
      window: '5m',
      above: d.errorRateThreshold,
      for: '2m',
      min_requests: 20,
      severity: 'page',
      annotations: {
        summary: '{{endpoint}}: {{value}} of requests answered 5xx (threshold {{threshold}})',
        description: 'Share of 5xx responses over the last 5 minutes.',
      },
    },
    {
      name: 'HighLatencyP95',
      signal: 'latency_p95',
      window: '5m',
      above: d.p95ThresholdMs,
      for: '5m',
      min_requests: 20,
      severity: 'ticket',
      annotations: {
        summary: '{{endpoint}}: p95 latency {{value}} ms (threshold {{threshold}} ms)',
        description: '95th percentile latency over the last 5 minutes, from the latency sketch.',
      },
    },
    {
      name: 'TrafficAnomaly',
      signal: 'traffic_anomaly',
      baseline: 'request_rate',
      window: '15m',
      above: d.anomalyThreshold,
      for: '10m',
      min_requests: d.anomalyMinRequests,
      severity: 'ticket',
      annotations: {
        summary:
          '{{endpoint}}: request rate {{value}} robust deviations from its usual level for this hour (threshold {{threshold}})',
        description:
          'Request rate over 15 minutes against the median and MAD of the same hour of day over the last 7 days (99 = the endpoint went silent).',
      },
    },
    {
      name: 'AuthFailureSpike',
      signal: 'auth_failure_rate',
      window: '5m',
      above: d.authFailureThreshold,
      for: '5m',
      min_requests: 20,
      severity: 'ticket',
      annotations: {
        summary: '{{endpoint}}: {{value}} of authentication attempts failed (threshold {{threshold}})',
        description: 'Share of failed auth attempts over 5 minutes (detailed mode records auth outcomes).',
      },
    },
  ];
  return d.defaultRules ? rules.map((r) => compileRule(r, 'default')) : [];
}

/**
 * Validates a parsed rules document (the YAML's value) and compiles it; throws
 * `APIMETER_ERR_ALERT_RULES_INVALID` with one problem per bad field, each naming the rule, the field,
 * the value and what is expected. `source` names the file in the message.
 */
export function compileRules(document: unknown, defaults: RuleDefaults, source = 'rules'): RuleSet {
  const doc = document === null || document === undefined ? {} : document;
  const checked = v.safeParse(FILE, doc, PARSE_CONFIG);
  const problems = checked.success ? [] : fieldProblems(doc, checked.issues);
  // Cross-field checks also run on a file with field errors, over the entries shaped well enough for them.
  const raw = doc as { rules?: unknown; slos?: unknown };
  const named = (list: unknown) =>
    Array.isArray(list)
      ? list.filter(
          (x): x is Record<string, unknown> =>
            typeof x === 'object' && x !== null && typeof (x as { name?: unknown }).name === 'string',
        )
      : [];
  problems.push(...crossProblems(named(raw.rules) as RuleInput[], named(raw.slos) as SloInput[]));
  if (problems.length > 0) {
    const n = problems.length;
    throw createError(
      'APIMETER_ERR_ALERT_RULES_INVALID',
      `${source}: ${n} problem${n === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      problems,
    );
  }
  // No problem: the schema accepted the document.
  const data = checked.output as v.InferOutput<typeof FILE>;
  const slos = (data.slos ?? []).map(compileSlo);
  const rules = [
    ...defaultRules(defaults).filter((d) => !(data.rules ?? []).some((r) => r.name === d.name)),
    ...(data.rules ?? []).map((r) => compileRule(r, 'file')),
    ...slos.filter((s) => s.alerting).flatMap(sloRules),
  ];
  const apdex = (data.apdex ?? []).map((a) => {
    const endpoints = list(a.endpoints);
    return Object.freeze({ endpoints: Object.freeze(endpoints), matches: globsMatcher(endpoints), tMs: a.t_ms });
  });
  return Object.freeze({ rules: Object.freeze(rules), slos: Object.freeze(slos), apdex: Object.freeze(apdex) });
}

/** Parses YAML text and compiles it (see {@link compileRules}); a YAML syntax error is `APIMETER_ERR_ALERT_RULES_FILE`. */
export function parseRules(text: string, defaults: RuleDefaults, source = 'rules'): RuleSet {
  let document: unknown;
  const { parse: parseYaml } = requireOptional<typeof Yaml>('yaml', 'an alert rules file');
  try {
    document = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw createError('APIMETER_ERR_ALERT_RULES_FILE', `${source}: not valid YAML: ${message}`);
  }
  return compileRules(document, defaults, source);
}

/** Reads and compiles a rules file; an unreadable file is `APIMETER_ERR_ALERT_RULES_FILE`. */
export function loadRulesFile(path: string, defaults: RuleDefaults): RuleSet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw createError('APIMETER_ERR_ALERT_RULES_FILE', `cannot read the alert rules file ${path}: ${reason}`);
  }
  return parseRules(text, defaults, path);
}
