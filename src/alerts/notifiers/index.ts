import * as v from 'valibot';
import { redactUrl } from '../../core/redact.js';
import {
  isMissingKeyIssue,
  isUnknownKeyIssue,
  mapping,
  missingText,
  PARSE_CONFIG,
  pathKeys,
  typeName,
} from '../../core/issue-text.js';
import { createError } from '../../errors.js';
import type { Notifier } from '../types.js';
import { AlertmanagerNotifier } from './alertmanager.js';
import { LogNotifier } from './log.js';
import { SlackNotifier } from './slack.js';
import { WebhookNotifier } from './webhook.js';

export { AlertmanagerNotifier, type AlertmanagerNotifierOptions, type PostableAlert } from './alertmanager.js';
export { HttpDelivery, type DeliveryOptions, type DeliveryStats } from './http-delivery.js';
export { LogNotifier, type AlertLogLine, type LogNotifierOptions } from './log.js';
export { MemoryNotifier } from './memory.js';
export { SlackNotifier, slackLine, slackMessage, type SlackMessage, type SlackNotifierOptions } from './slack.js';
export {
  WEBHOOK_BODY_VERSION,
  WebhookNotifier,
  type WebhookBody,
  type WebhookEvent,
  type WebhookNotifierOptions,
} from './webhook.js';

export interface CreateNotifiersOptions {
  /** Stream of every `log` notifier, instead of its `stream` field. */
  stream?: NodeJS.WritableStream;
  /** Milliseconds; default Date.now. */
  now?: () => number;
  /** 0 ≤ x < 1, for retry jitter. Default Math.random. */
  random?: () => number;
  /** Every failed delivery attempt, redacted, with the notifier's name. */
  onError?: (notifier: string, message: string) => void;
}

const TYPES = ['log', 'webhook', 'slack', 'alertmanager'] as const;
type NotifierType = (typeof TYPES)[number];

const HTTP_URL = v.pipe(
  v.string(),
  v.check((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'expected an http(s) URL'),
);
const MS = (max: number) => v.pipe(v.number(), v.finite(), v.safeInteger(), v.minValue(0), v.maxValue(max));
const NAME = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1-64 letters, digits, _ . -'));
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADERS = v.pipe(
  mapping((issue) => `Invalid input: expected record, received ${typeName(issue.input)}`),
  v.record(v.string(), v.pipe(v.string(), v.regex(/^[^\r\n]*$/, 'expected a header value without line breaks'))),
  v.check((h) => Object.keys(h).every((k) => HEADER_NAME.test(k)), 'expected header names (token characters)'),
);
const DAY = 86_400_000;

const HTTP_FIELDS = {
  type: v.string(),
  name: v.optional(NAME),
  url: HTTP_URL,
  headers: v.optional(HEADERS),
  timeout_ms: v.optional(v.pipe(v.number(), v.finite(), v.safeInteger(), v.minValue(1), v.maxValue(300_000))),
  max_attempts: v.optional(v.pipe(v.number(), v.finite(), v.safeInteger(), v.minValue(1), v.maxValue(100))),
  backoff_ms: v.optional(MS(3_600_000)),
  max_backoff_ms: v.optional(MS(3_600_000)),
  queue_size: v.optional(v.pipe(v.number(), v.finite(), v.safeInteger(), v.minValue(0), v.maxValue(100_000))),
};

const SCHEMAS = {
  log: v.strictObject({
    type: v.string(),
    name: v.optional(NAME),
    stream: v.optional(v.picklist(['stderr', 'stdout'])),
    repeat_interval_ms: v.optional(MS(30 * DAY)),
  }),
  webhook: v.strictObject({ ...HTTP_FIELDS, repeat_interval_ms: v.optional(MS(30 * DAY)) }),
  slack: v.strictObject({
    ...HTTP_FIELDS,
    blocks: v.optional(v.boolean()),
    repeat_interval_ms: v.optional(MS(30 * DAY)),
  }),
  alertmanager: v.strictObject({
    ...HTTP_FIELDS,
    resend_interval_ms: v.optional(v.pipe(v.number(), v.finite(), v.safeInteger(), v.minValue(1_000), v.maxValue(DAY))),
    generator_url: v.optional(HTTP_URL),
  }),
} as const;

type Parsed = { [K in NotifierType]: v.InferOutput<(typeof SCHEMAS)[K]> & { type: K } }[NotifierType];

/**
 * The notifiers of a `notifiers:` configuration section: a list of plain objects (as YAML gives them),
 * each with a `type` (`log`, `webhook`, `slack`, `alertmanager`) and that type's fields (see
 * docs/alerts.md). Unknown fields, bad values and duplicate names throw `APIMETER_ERR_NOTIFIER_INVALID`
 * with one problem line per mistake naming the notifier (index and name), the field and the value
 * (URLs redacted, header values hidden). `null`/`undefined` gives no notifiers.
 *
 * @example
 * const notifiers = createNotifiers([
 *   { type: 'log' },
 *   { type: 'alertmanager', url: 'http://127.0.0.1:9093' },
 *   { type: 'webhook', name: 'ops', url: 'https://ops.example.com/hook', headers: { Authorization: 'Bearer …' } },
 * ]);
 */
export function createNotifiers(config: unknown, options: CreateNotifiersOptions = {}): Notifier[] {
  if (config === null || config === undefined) return [];
  if (!Array.isArray(config))
    throw invalid([`notifiers: ${show(config, [])}: expected a list of notifiers (got ${kind(config)})`]);
  const problems: string[] = [];
  const parsed: (Parsed | null)[] = config.map((raw: unknown, index) => {
    const where = `notifiers[${index}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${where}: ${show(raw, [])}: expected an object with a type (got ${kind(raw)})`);
      return null;
    }
    const item = raw as Record<string, unknown>;
    const label = typeof item.name === 'string' ? `${where} (${JSON.stringify(item.name)})` : where;
    if (!TYPES.includes(item.type as NotifierType)) {
      problems.push(`${label} type: ${show(item.type, ['type'])}: expected one of ${TYPES.join(', ')}`);
      return null;
    }
    const schema = SCHEMAS[item.type as NotifierType];
    const result = v.safeParse(schema, item, PARSE_CONFIG);
    if (result.success) return result.output as Parsed;
    for (const issue of result.issues) problems.push(...issueLines(label, item, schema, issue, item.type === 'slack'));
    return null;
  });
  const names = new Map<string, number>();
  const counts = new Map<string, number>();
  const named = parsed.map((p, index) => {
    if (p === null) return null;
    const n = (counts.get(p.type) ?? 0) + 1;
    counts.set(p.type, n);
    const name = p.name ?? (n === 1 ? p.type : `${p.type}-${n}`);
    const first = names.get(name);
    if (first !== undefined)
      problems.push(`notifiers[${index}] name: ${JSON.stringify(name)}: already used by notifiers[${first}]`);
    else names.set(name, index);
    return { ...p, name };
  });
  if (problems.length > 0) throw invalid(problems);
  return named.map((p) => build(p!, options));
}

function build(p: Parsed & { name: string }, options: CreateNotifiersOptions): Notifier {
  if (p.type === 'log')
    return new LogNotifier({
      name: p.name,
      stream: options.stream ?? (p.stream === 'stdout' ? process.stdout : process.stderr),
      repeatIntervalMs: p.repeat_interval_ms,
      now: options.now,
    });
  const onError = options.onError;
  const delivery = {
    name: p.name,
    url: p.url,
    headers: p.headers,
    timeoutMs: p.timeout_ms,
    maxAttempts: p.max_attempts,
    backoffMs: p.backoff_ms,
    maxBackoffMs: p.max_backoff_ms,
    queueSize: p.queue_size,
    random: options.random,
    now: options.now,
    onError: onError === undefined ? undefined : (message: string) => onError(p.name, message),
  };
  if (p.type === 'webhook') return new WebhookNotifier({ ...delivery, repeatIntervalMs: p.repeat_interval_ms });
  if (p.type === 'slack')
    return new SlackNotifier({ ...delivery, blocks: p.blocks, repeatIntervalMs: p.repeat_interval_ms });
  return new AlertmanagerNotifier({
    ...delivery,
    resendIntervalMs: p.resend_interval_ms,
    generatorUrl: p.generator_url,
  });
}

function issueLines(
  label: string,
  item: Record<string, unknown>,
  schema: (typeof SCHEMAS)[NotifierType],
  issue: v.BaseIssue<unknown>,
  slack: boolean,
): string[] {
  const path = pathKeys(issue).map(String);
  if (isUnknownKeyIssue(issue)) {
    // valibot names the first unknown key of an object; every one gets its line.
    const known = Object.keys(schema.entries);
    const unknown = Object.keys(item).filter((key) => !known.includes(key));
    return unknown.map((key) => `${label} ${key}: unknown field`);
  }
  const missing = isMissingKeyIssue(issue) ? (schema.entries as Record<string, v.GenericSchema>)[path[0]] : undefined;
  const message = (missing === undefined ? issue.message : missingText(missing)).replace(/^Invalid input: /, '');
  const shown = slack && path[0] === 'url' ? '"***"' : show(valueAt(item, path), path);
  return [`${label} ${path.join('.')}: ${shown}: ${message}`];
}

function valueAt(item: Record<string, unknown>, path: readonly string[]): unknown {
  let value: unknown = item;
  for (const key of path) value = typeof value === 'object' && value !== null ? (value as never)[key] : undefined;
  return value;
}

/** The value as JSON, with secrets hidden: header values, and URLs redacted (Slack's wholly: its path is the secret). */
function show(value: unknown, path: readonly string[]): string {
  if (path[0] === 'headers' && path.length > 1) return '"***"';
  if (path[0] === 'headers' && typeof value === 'object' && value !== null)
    return JSON.stringify(Object.fromEntries(Object.keys(value).map((k) => [k, '***'])));
  if (typeof value === 'string' && /url$/.test(path[path.length - 1] ?? '')) return JSON.stringify(redactUrl(value));
  const json = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  return json.length > 80 ? `${json.slice(0, 80)}…` : json;
}

function kind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}

function invalid(problems: string[]) {
  const count = problems.length === 1 ? '1 notifier problem' : `${problems.length} notifier problems`;
  return createError(
    'APIMETER_ERR_NOTIFIER_INVALID',
    `${count}:\n${problems.map((l) => `  - ${l}`).join('\n')}`,
    problems,
  );
}
