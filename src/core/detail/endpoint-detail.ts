import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import { LATENCY_SKETCH, SIZE_SKETCH, Sketch } from '../sketch.js';

/**
 * Detailed mode (`metrics_detailed`): what an operator needs to explain a slow or failing endpoint —
 * auth outcomes, database queries per request, rate-limit quota, normalized error messages, sampled
 * 5xx stacks, trace exemplars. Adapters open a {@link RequestContext} per request and run the rest of
 * the request inside it (AsyncLocalStorage), so database wrappers and the application can add to it
 * from anywhere without being handed the request. With detailed mode off none of this runs.
 */

/** Authentication schemes told apart. `none`: no credentials presented (counted only when refused). */
export const AUTH_TYPES = ['bearer', 'basic', 'api_key', 'session', 'other', 'none'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
const AUTH_OTHER = AUTH_TYPES.indexOf('other');

/** Reads one request or response header (lower-case name); adapters wrap their framework's headers. */
export type HeaderReader = (name: string) => string | string[] | number | null | undefined;

/** Per-request state of detailed mode. Never holds a credential: only which kind was presented. */
export class RequestContext {
  /** Index into AUTH_TYPES of the credentials presented; -1 when none. */
  authType = -1;
  /** Outcome reported by the application: 1 success, 0 failure, -1 not reported (inferred from status). */
  authSuccess = -1;
  queries = 0;
  dbMs = 0;
  /** Rate-limit quota reported by the application or read from the response headers; -1 unknown. */
  rateLimit = -1;
  rateRemaining = -1;
  /** The application reported this request as rate-limited (whatever its status). */
  rateLimited = false;
  traceId: string | undefined = undefined;
  spanId: string | undefined = undefined;
}

/** The context of the request being served, if any; shared by every meter in the process. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The current request's context, or undefined outside a request or with detailed mode off. */
export function currentContext(): RequestContext | undefined {
  return requestContext.getStore();
}

/** Adds one database query of `ms` to the current request (no-op outside one). For database wrappers. */
export function noteQuery(ms: number): void {
  const ctx = requestContext.getStore();
  if (ctx !== undefined) {
    ctx.queries++;
    if (ms > 0) ctx.dbMs += ms;
  }
}

export interface AuthHeaderRules {
  apiKeyHeaders: readonly string[];
  sessionCookies: readonly string[];
}

/**
 * The kind of credentials a request presents, as an index into AUTH_TYPES, or -1 for none. Reads only
 * the scheme word of Authorization, and only whether an API-key header or session cookie is present:
 * values are never copied anywhere.
 */
export function authTypeOf(header: HeaderReader, rules: AuthHeaderRules): number {
  const auth = header('authorization');
  if (typeof auth === 'string' && auth.length > 0) {
    const space = auth.indexOf(' ');
    const scheme = (space === -1 ? auth : auth.slice(0, space)).toLowerCase();
    if (scheme === 'bearer') return 0;
    if (scheme === 'basic') return 1;
    return AUTH_OTHER;
  }
  for (const name of rules.apiKeyHeaders) {
    const v = header(name);
    if (v !== undefined && v !== null && v !== '') return 2;
  }
  if (rules.sessionCookies.length > 0) {
    const cookie = header('cookie');
    if (typeof cookie === 'string' && hasCookie(cookie, rules.sessionCookies)) return 3;
  }
  return -1;
}

function hasCookie(cookie: string, names: readonly string[]): boolean {
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (names.includes(name) && part.slice(eq + 1).trim() !== '') return true;
  }
  return false;
}

/** Class name of a thrown value, as the registry lists exceptions (`TypeError`, `SchedulerUnavailableError`). */
export function errorClassOf(error: unknown): string {
  if (error === null || typeof error !== 'object') return typeof error === 'string' ? 'Error' : typeof error;
  const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Error' && ctor !== 'Object') return ctor.slice(0, 100);
  const name = (error as { name?: unknown }).name;
  return typeof name === 'string' && name !== '' ? name.slice(0, 100) : 'Error';
}

export function errorMessageOf(error: unknown): string {
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : '';
}

/**
 * Quota from a limiter's response headers: IETF draft 6 (`RateLimit-Limit`, `RateLimit-Remaining`),
 * the older `X-RateLimit-*`, draft 7 (`RateLimit: limit=100, remaining=5, reset=30`) and draft 8
 * (`RateLimit: "p";r=5;t=30` with `RateLimit-Policy: "p";q=100;w=60`).
 */
export function readRateLimitHeaders(ctx: RequestContext, header: HeaderReader): void {
  let limit = numberHeader(header('ratelimit-limit') ?? header('x-ratelimit-limit'));
  let remaining = numberHeader(header('ratelimit-remaining') ?? header('x-ratelimit-remaining'));
  if (Number.isNaN(limit)) {
    const combined = header('ratelimit');
    if (typeof combined === 'string') {
      const policy = header('ratelimit-policy');
      limit = param(combined, 'limit');
      remaining = param(combined, 'remaining');
      if (Number.isNaN(remaining)) remaining = param(combined, 'r');
      if (Number.isNaN(limit) && typeof policy === 'string') limit = param(policy, 'q');
    }
  }
  if (limit >= 0) {
    ctx.rateLimit = limit;
    ctx.rateRemaining = remaining >= 0 ? remaining : -1;
  }
}

function numberHeader(v: string | string[] | number | null | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string' || !/^\s*\d{1,15}\s*$/.test(v)) return NaN;
  return Number(v);
}

// `name=123` inside a structured header value (`limit=100, remaining=5` or `"p";r=5;t=30`), compiled once.
const PARAMS: Record<string, RegExp> = {};
for (const name of ['limit', 'remaining', 'r', 'q'])
  PARAMS[name] = new RegExp(`(?:^|[;,\\s])${name}=(\\d{1,15})(?:$|[;,\\s])`);

function param(value: string, name: 'limit' | 'remaining' | 'r' | 'q'): number {
  const m = PARAMS[name].exec(value);
  return m === null ? NaN : Number(m[1]);
}

/** Characters of a raw message looked at, and of a normalized message kept. */
const MESSAGE_SCAN = 1000;
export const MESSAGE_KEEP = 160;

// `password=…`, `token: …`, `Bearer …`: the value after a credential's name, whatever its length.
const CREDENTIAL =
  /\b(pass(?:word|wd)?|pwd|secret|token|api[-_]?key|access[-_]?key|auth(?:orization)?|cookie|session(?:id)?|sid)(\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;]+)|\b(bearer|basic)(\s+)([^\s,;]+)/gi;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const EMAIL = /[\w.+-]+@[\w-]+(\.[\w-]+)+/g;
const QUOTED = /'[^']*'|"[^"]*"|`[^`]*`/g;
// Long runs of letters and digits mixing both (tokens, hashes, keys): likely ids or secrets.
const TOKEN = /\b(?=[A-Za-z0-9_\-+/=]*\d)(?=[A-Za-z0-9_\-+/=]*[A-Za-z])[A-Za-z0-9_\-+/=]{16,}/g;
const HEX = /\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b/gi;
const NUMBER = /(?<![A-Za-z])[-+]?\d+([.,:]\d+)*/g;
// Control characters, replacement characters and lone surrogates: binary junk in a message.
const JUNK =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * An exception message with its variable parts replaced, so that messages differing only by ids group
 * together and no id, token, address or quoted value is kept: `Dag 'etl_42' run 17 not found` →
 * `Dag '?' run <n> not found`. Bounded work (the first 1,000 characters) and length (160).
 */
export function normalizeMessage(message: unknown): string {
  let s = typeof message === 'string' ? message : typeof message === 'number' ? String(message) : '';
  if (s.length > MESSAGE_SCAN) s = s.slice(0, MESSAGE_SCAN);
  s = s
    .replace(JUNK, '?')
    .replace(CREDENTIAL, (_m, k1?: string, s1?: string, _v1?: string, k2?: string, s2?: string) =>
      k1 !== undefined ? `${k1}${s1}<redacted>` : `${k2}${s2}<redacted>`,
    )
    .replace(UUID, '<uuid>')
    .replace(EMAIL, '<email>')
    .replace(QUOTED, (q) => q[0] + '?' + q[0])
    .replace(TOKEN, '<token>')
    .replace(HEX, '<hex>')
    .replace(NUMBER, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > MESSAGE_KEEP ? s.slice(0, MESSAGE_KEEP - 1) + '…' : s;
}

/** Stack frames kept per sample, and characters per frame. */
const STACK_FRAMES = 12;
const FRAME_CHARS = 300;

/**
 * The frames of a stack trace (`at f (file:line:col)` lines), without its first line: that line
 * repeats the message, which may hold ids or secrets; the normalized message is kept apart.
 */
export function stackFrames(error: unknown): string[] {
  const stack = (error as { stack?: unknown } | null)?.stack;
  if (typeof stack !== 'string') return [];
  const frames: string[] = [];
  for (const line of stack.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('at ')) continue;
    frames.push(t.length > FRAME_CHARS ? t.slice(0, FRAME_CHARS) : t.replace(JUNK, '?'));
    if (frames.length === STACK_FRAMES) break;
  }
  return frames;
}

export interface ErrorSample {
  at: number;
  status: number;
  class: string;
  message: string;
  frames: string[];
  traceId: string | undefined;
}

export interface ErrorMessageStats {
  class: string;
  message: string;
  count: number;
  lastAt: number;
}

/** A traced request kept as an exemplar for the latency range it fell in. */
export interface Exemplar {
  traceId: string;
  spanId: string | undefined;
  valueMs: number;
  at: number;
}

/** Distinct (class, normalized message) pairs kept per endpoint; the rest count under `(other)`. */
export const MAX_MESSAGES = 20;
/** Exemplar slots per endpoint: one per power of two of milliseconds from 2⁻¹⁰ ms (1 µs) up. */
export const EXEMPLAR_SLOTS = 32;
const EXEMPLAR_OFFSET = 10;

/** Index of the exemplar slot for a duration (one per power of two of ms). */
export function exemplarSlot(ms: number): number {
  if (!(ms > 0)) return 0;
  const i = Math.floor(Math.log2(ms)) + EXEMPLAR_OFFSET;
  return i < 0 ? 0 : i >= EXEMPLAR_SLOTS ? EXEMPLAR_SLOTS - 1 : i;
}

/**
 * Per-endpoint data of detailed mode that is kept since start-up rather than per time slot
 * (distributions, samples, quota). Counts that need time windows (auth attempts and failures,
 * rate-limited requests, queries) live in the tally counters instead.
 */
export class EndpointDetail {
  /** Auth attempts by [type * 2 + (success ? 1 : 0)]. */
  readonly auth: number[] = new Array<number>(AUTH_TYPES.length * 2).fill(0);
  /** Queries per request and database time per request (ms), over requests recorded with a context. */
  readonly queries = new Sketch(SIZE_SKETCH);
  readonly dbTime = new Sketch(LATENCY_SKETCH);
  /** Last rate-limit quota seen: limit, remaining, when; and the lowest remaining share seen. */
  rateLimit = -1;
  rateRemaining = -1;
  rateAt = 0;
  rateLowestShare = 1;
  readonly messages = new Map<string, ErrorMessageStats>();
  readonly samples: ErrorSample[] = [];
  /** 5xx responses seen, for reservoir sampling. */
  samplesSeen = 0;
  readonly exemplars: (Exemplar | undefined)[] = new Array<Exemplar | undefined>(EXEMPLAR_SLOTS).fill(undefined);

  noteAuth(type: number, success: boolean): void {
    this.auth[type * 2 + (success ? 1 : 0)]++;
  }

  noteMessage(cls: string, message: string, now: number): void {
    let key = cls + '\u0000' + message;
    let entry = this.messages.get(key);
    if (entry === undefined) {
      if (this.messages.size >= MAX_MESSAGES) {
        key = '(other)';
        entry = this.messages.get(key);
      }
      if (entry === undefined) {
        entry =
          key === '(other)'
            ? { class: '(other)', message: '', count: 0, lastAt: 0 }
            : { class: cls, message, count: 0, lastAt: 0 };
        this.messages.set(key, entry);
      }
    }
    entry.count++;
    entry.lastAt = now;
  }

  /** Reservoir sampling (Algorithm R): every 5xx has the same chance `capacity / seen` to be kept. */
  noteSample(capacity: number, random: () => number, make: () => ErrorSample): void {
    if (capacity <= 0) return;
    this.samplesSeen++;
    if (this.samples.length < capacity) {
      this.samples.push(make());
      return;
    }
    const j = Math.floor(random() * this.samplesSeen);
    if (j < capacity) this.samples[j] = make();
  }

  noteExemplar(traceId: string, spanId: string | undefined, ms: number, now: number): void {
    const i = exemplarSlot(ms);
    const e = this.exemplars[i];
    if (e === undefined) this.exemplars[i] = { traceId, spanId, valueMs: ms, at: now };
    else {
      e.traceId = traceId;
      e.spanId = spanId;
      e.valueMs = ms;
      e.at = now;
    }
  }

  noteRateLimit(limit: number, remaining: number, now: number): void {
    this.rateLimit = limit;
    this.rateRemaining = remaining;
    this.rateAt = now;
    if (limit > 0) {
      const share = Math.max(0, remaining) / limit;
      if (share < this.rateLowestShare) this.rateLowestShare = share;
    }
  }
}

export interface TraceIds {
  traceId: string;
  spanId?: string;
}

/** Finds the active span's ids; undefined when no tracer is active. */
export type TraceSource = () => TraceIds | undefined;

const INVALID_TRACE = /^0+$/;

/**
 * The default trace source: the active OpenTelemetry span (if `@opentelemetry/api` is installed and a
 * tracer provider is registered), else the active dd-trace span (if dd-trace is loaded). Resolved once.
 */
export function defaultTraceSource(): TraceSource {
  const sources: TraceSource[] = [];
  try {
    const require = createRequire(import.meta.url);
    const api = require('@opentelemetry/api') as typeof OtelApi;
    sources.push(() => {
      const span = api.trace.getSpan(api.context.active());
      if (span === undefined) return undefined;
      const sc = span.spanContext();
      return api.isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
    });
  } catch {
    // @opentelemetry/api not installed: no OpenTelemetry correlation.
  }
  sources.push(ddTraceIds);
  return () => {
    for (const source of sources) {
      const ids = source();
      if (ids !== undefined) return ids;
    }
    return undefined;
  };
}

interface DdSpan {
  context(): { toTraceId(hex?: boolean): string; toSpanId(hex?: boolean): string };
}

/** dd-trace keeps its tracer on `global._ddtrace`; its active span gives the ids. */
function ddTraceIds(): TraceIds | undefined {
  const tracer = (globalThis as { _ddtrace?: { scope?: () => { active(): DdSpan | null } } })._ddtrace;
  const span = tracer?.scope?.().active();
  if (!span) return undefined;
  const ctx = span.context();
  const traceId = ctx.toTraceId(true);
  if (typeof traceId !== 'string' || INVALID_TRACE.test(traceId)) return undefined;
  return { traceId, spanId: ctx.toSpanId(true) };
}
