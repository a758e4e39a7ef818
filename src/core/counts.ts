import { ERROR_TYPES } from './record.js';
import type { ErrorType } from './record.js';
import { LATENCY_SKETCH, Sketch } from './sketch.js';
import { F, statusClassOf } from './tally.js';
import type { Tally } from './tally.js';

/**
 * Status class labels in the one order every output uses: 1xx..5xx, then `other` (a status outside
 * 100–599: counted, but in no class).
 */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** The class label of a status code (`404` → `4xx`, `999` → `other`). */
export function statusClassLabel(status: number): StatusClass {
  const k = statusClassOf(status);
  return STATUS_CLASSES[k === 0 ? 5 : k - 1];
}

/** Body sizes of the requests (or responses) whose size was known. */
export interface ByteCounts {
  /** Bytes summed. */
  total: number;
  /** Bodies whose size was known (the mean is total / sized). */
  sized: number;
  /** Largest body; in a delta, the largest since start-up (a maximum has no difference). */
  max: number;
}

/**
 * An endpoint's counters as plain named fields: what a Tally holds, without its storage layout. Filled
 * by {@link readCounts} (from tallies) or as a difference by {@link Counters.setDifference} (the reader's
 * deltas). Reused objects: readers fill one per endpoint and hand it out until the next fill.
 */
export class Counters {
  /** Requests. */
  count = 0;
  /** Requests by status class; `other` is count minus the five classes. */
  readonly classes: Record<StatusClass, number> = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 };
  private map: Map<number, number> | null = null;
  /** Requests by exclusive error type (ERROR_TYPES). */
  readonly errors: Record<ErrorType, number> = {
    server_error: 0,
    client_error: 0,
    exception: 0,
    validation: 0,
    aborted: 0,
  };
  readonly request: ByteCounts = { total: 0, sized: 0, max: 0 };
  readonly response: ByteCounts = { total: 0, sized: 0, max: 0 };
  // Detailed mode only (metrics_detailed); zero otherwise.
  /** Requests recorded with a request context (the denominator of per-request means). */
  detailed = 0;
  /** Requests that presented credentials or were refused with 401/403. */
  authAttempts = 0;
  /** Auth attempts that failed. */
  authFailures = 0;
  /** Requests refused by a rate limiter. */
  rateLimited = 0;
  /** Database queries made while serving the requests, and their summed time in ms. */
  dbQueries = 0;
  dbMs = 0;

  /** Exact status code → requests, codes ascending (a delta holds only the codes that gained). */
  get codes(): Map<number, number> {
    // Made on first use: a delta consumer that does not follow codes keeps none per endpoint.
    return (this.map ??= new Map());
  }

  /** Requests that ended in an error of any type. */
  get errorTotal(): number {
    const e = this.errors;
    return e.server_error + e.client_error + e.exception + e.validation + e.aborted;
  }

  /** Copies `from`'s counters (codes included). */
  copyFrom(from: Counters): this {
    this.count = from.count;
    for (const k of STATUS_CLASSES) this.classes[k] = from.classes[k];
    for (const t of ERROR_TYPES) this.errors[t] = from.errors[t];
    copyBytes(this.request, from.request);
    copyBytes(this.response, from.response);
    this.detailed = from.detailed;
    this.authAttempts = from.authAttempts;
    this.authFailures = from.authFailures;
    this.rateLimited = from.rateLimited;
    this.dbQueries = from.dbQueries;
    this.dbMs = from.dbMs;
    this.map?.clear();
    if (from.map !== null) for (const [code, n] of from.map) this.codes.set(code, n);
    return this;
  }

  /**
   * `now − base`, field by field (both cumulative, `now` the later): what was recorded between them.
   * Maxima are `now`'s; codes keep only those that gained (ascending, as in `now`).
   */
  setDifference(now: Counters, base: Counters): this {
    this.count = now.count - base.count;
    for (const k of STATUS_CLASSES) this.classes[k] = now.classes[k] - base.classes[k];
    for (const t of ERROR_TYPES) this.errors[t] = now.errors[t] - base.errors[t];
    diffBytes(this.request, now.request, base.request);
    diffBytes(this.response, now.response, base.response);
    this.detailed = now.detailed - base.detailed;
    this.authAttempts = now.authAttempts - base.authAttempts;
    this.authFailures = now.authFailures - base.authFailures;
    this.rateLimited = now.rateLimited - base.rateLimited;
    this.dbQueries = now.dbQueries - base.dbQueries;
    this.dbMs = now.dbMs - base.dbMs;
    this.map?.clear();
    if (now.map === null) return this;
    for (const [code, n] of now.map) {
      const gained = n - (base.map?.get(code) ?? 0);
      if (gained > 0) this.codes.set(code, gained);
    }
    return this;
  }

  /** All zero, no codes. */
  clear(): this {
    this.count = 0;
    for (const k of STATUS_CLASSES) this.classes[k] = 0;
    for (const t of ERROR_TYPES) this.errors[t] = 0;
    this.request.total = this.request.sized = this.request.max = 0;
    this.response.total = this.response.sized = this.response.max = 0;
    this.detailed = this.authAttempts = this.authFailures = this.rateLimited = this.dbQueries = this.dbMs = 0;
    this.map?.clear();
    return this;
  }
}

/** {@link Counters} plus the latency sketch (milliseconds) of the same requests. */
export class Counts extends Counters {
  /**
   * The latency sketch: the tally's own when {@link readCounts} read one tally (read it, never modify
   * it), else a sketch owned by this object holding the sum.
   */
  latency: Sketch;
  private own: Sketch | null = null;

  constructor() {
    super();
    this.latency = EMPTY_LATENCY;
  }

  /** This object's own sketch, emptied (kept between fills so its storage is reused). */
  ownLatency(): Sketch {
    const s = (this.own ??= new Sketch(LATENCY_SKETCH));
    s.reset();
    return s;
  }
}

const EMPTY_LATENCY = new Sketch(LATENCY_SKETCH);

/** Scratch for the status code pairs of one or two tallies, sorted before they go into a Map. */
let pairCode: number[] = [];
let pairCount: number[] = [];

/**
 * Fills `into` with `t`'s counters (plus `more`'s, when given: an endpoint's since-start total and its
 * open slot). With `latency` (default) `into.latency` is `t`'s sketch, or the sum of both in `into`'s
 * own sketch; without, it is left as it was. The only code outside tally.ts that knows the Tally layout.
 */
export function readCounts(into: Counts, t: Tally, more?: Tally, latency = true): Counts {
  readCounters(into, t, more);
  if (latency) {
    if (more === undefined || more.latency.count === 0) into.latency = t.latency;
    else if (t.latency.count === 0) into.latency = more.latency;
    else into.latency = into.ownLatency().merge(t.latency).merge(more.latency);
  }
  return into;
}

/** A new Counts of one tally (API answers, store rows: one per call is fine there). */
export function countsOf(t: Tally): Counts {
  return readCounts(new Counts(), t);
}

/** Stands in for a missing second tally's counters (at least as long as any Tally's). */
const NO_COUNTERS: readonly number[] = new Array<number>(64).fill(0);

/** {@link readCounts} without the sketch, into any Counters; without `codes`, `into.codes` is left as it was. */
export function readCounters(into: Counters, t: Tally, more?: Tally, codes = true): Counters {
  // Counters are >= 0, so adding (or taking the max with) zeros for a missing tally changes nothing.
  const a = t.c;
  const b = more === undefined ? NO_COUNTERS : more.c;
  const count = a[F.count] + b[F.count];
  into.count = count;
  const cl = into.classes;
  const k = F.status1xx;
  cl['1xx'] = a[k] + b[k];
  cl['2xx'] = a[k + 1] + b[k + 1];
  cl['3xx'] = a[k + 2] + b[k + 2];
  cl['4xx'] = a[k + 3] + b[k + 3];
  cl['5xx'] = a[k + 4] + b[k + 4];
  cl.other = count - cl['1xx'] - cl['2xx'] - cl['3xx'] - cl['4xx'] - cl['5xx'];
  const e = into.errors;
  e.server_error = a[F.serverError] + b[F.serverError];
  e.client_error = a[F.clientError] + b[F.clientError];
  e.exception = a[F.exception] + b[F.exception];
  e.validation = a[F.validation] + b[F.validation];
  e.aborted = a[F.aborted] + b[F.aborted];
  into.request.total = a[F.requestBytes] + b[F.requestBytes];
  into.request.sized = a[F.requestSized] + b[F.requestSized];
  into.request.max = Math.max(a[F.requestBytesMax], b[F.requestBytesMax]);
  into.response.total = a[F.responseBytes] + b[F.responseBytes];
  into.response.sized = a[F.responseSized] + b[F.responseSized];
  into.response.max = Math.max(a[F.responseBytesMax], b[F.responseBytesMax]);
  into.detailed = a[F.detailed] + b[F.detailed];
  into.authAttempts = a[F.authAttempts] + b[F.authAttempts];
  into.authFailures = a[F.authFailures] + b[F.authFailures];
  into.rateLimited = a[F.rateLimited] + b[F.rateLimited];
  into.dbQueries = a[F.dbQueries] + b[F.dbQueries];
  into.dbMs = a[F.dbMs] + b[F.dbMs];
  if (codes) {
    const map = into.codes;
    map.clear();
    let n = addCodes(t.codePairs, t.codePairsLength, 0);
    if (more !== undefined) n = addCodes(more.codePairs, more.codePairsLength, n);
    for (let i = 0; i < n; i++) map.set(pairCode[i], pairCount[i]);
  }
  return into;
}

/** Adds status code pairs to the `n` sorted ones in the scratch arrays; returns how many there are now. */
function addCodes(pairs: readonly number[], length: number, n: number): number {
  if (pairCode.length < n + length / 2) {
    const size = Math.max(16, 2 * (n + length / 2));
    pairCode = pairCode.concat(new Array<number>(size - pairCode.length).fill(0));
    pairCount = pairCount.concat(new Array<number>(size - pairCount.length).fill(0));
  }
  for (let i = 0; i < length; i += 2) {
    const code = pairs[i];
    let k = 0;
    while (k < n && pairCode[k] !== code) k++;
    if (k < n) {
      pairCount[k] += pairs[i + 1];
      continue;
    }
    // Insertion sort: an endpoint answers with a handful of distinct codes.
    let j = n++;
    while (j > 0 && pairCode[j - 1] > code) {
      pairCode[j] = pairCode[j - 1];
      pairCount[j] = pairCount[j - 1];
      j--;
    }
    pairCode[j] = code;
    pairCount[j] = pairs[i + 1];
  }
  return n;
}

function copyBytes(to: ByteCounts, from: ByteCounts): void {
  to.total = from.total;
  to.sized = from.sized;
  to.max = from.max;
}

function diffBytes(to: ByteCounts, now: ByteCounts, base: ByteCounts): void {
  to.total = now.total - base.total;
  to.sized = now.sized - base.sized;
  to.max = now.max;
}
