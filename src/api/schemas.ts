import * as v from 'valibot';
import { AUTH_TYPES } from '../core/detail.js';
import { LATENCY_SKETCH, relativeErrorText, SIZE_SKETCH } from '../core/sketch.js';
import { CONSUMER_COMPONENTS, ConsumerOnEndpoint, EndpointConsumer } from './consumer-schemas.js';

/**
 * Response schemas of the metrics REST API. The OpenAPI document is generated from them
 * (`@valibot/to-json-schema`), the route code builds values of their inferred types, and the tests validate real
 * answers against the generated document, so the three cannot drift apart.
 */

// Leaves typed by what they produce: their pipes' full types would be repeated in every declaration.
const count: v.GenericSchema<number> = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const ms: v.GenericSchema<number | null> = v.nullable(v.pipe(v.number(), v.minValue(0)));
const ratio: v.GenericSchema<number> = v.pipe(v.number(), v.minValue(0), v.maxValue(1));
const isoTime: v.GenericSchema<string> = v.pipe(v.string(), v.isoTimestamp(), v.description('ISO 8601 date-time, UTC'));

/**
 * A component referenced with a description of its own: `{ $ref, description }` in the document. (A
 * pipe of the component itself would be inlined; the lazy schema is converted to a reference.)
 */
export const describedRef = <S extends v.GenericSchema>(schema: S, description: string) =>
  v.pipe(
    v.lazy(() => schema),
    v.description(description),
  );

export const Distribution = v.pipe(
  v.object({
    count: v.pipe(
      count,
      v.description('values the distribution was built from (every request, or the sample when sampling)'),
    ),
    min: ms,
    mean: ms,
    p50: ms,
    p90: ms,
    p95: ms,
    p99: ms,
    max: ms,
  }),
  v.description(
    `Latency in milliseconds; percentiles within ${relativeErrorText(LATENCY_SKETCH)} of a true value of that rank, null when empty`,
  ),
);

export const SizeStats = v.pipe(
  v.object({
    count: v.pipe(count, v.description('requests whose body size was known')),
    total: v.pipe(v.number(), v.minValue(0), v.description('bytes')),
    mean: ms,
    max: ms,
    p50: v.pipe(ms, v.description('only for window=all (size sketches are kept since start-up), else null')),
    p95: ms,
  }),
  v.description('Body sizes in bytes'),
);

export const StatusClasses = v.object({ '1xx': count, '2xx': count, '3xx': count, '4xx': count, '5xx': count });

export const ErrorTypes = v.pipe(
  v.object({ server_error: count, client_error: count, exception: count, validation: count, aborted: count }),
  v.description('Exclusive error types: a request counts under at most one'),
);

export const Range = v.pipe(
  v.object({
    window: v.pipe(v.nullable(v.string()), v.description('the window asked for, null for start/end')),
    from: isoTime,
    to: isoTime,
    seconds: v.pipe(
      v.number(),
      v.minValue(0),
      v.description('seconds the data actually covers (rates divide by this)'),
    ),
    resolution_seconds: v.pipe(
      v.number(),
      v.minValue(0),
      v.description('slot length the range was read at; 0 for window=all'),
    ),
    source: v.picklist(['memory', 'history', 'memory+history']),
  }),
  v.description('The time range an answer covers, after snapping to whole slots'),
);

const ERRORS = v.pipe(
  count,
  v.description('requests with an error type (any of error_types: 5xx, 4xx, exceptions, validation, aborted)'),
);
const RATE_5XX = v.pipe(ratio, v.description('share of 5xx responses (0 without requests)'));
const RATE_4XX = v.pipe(
  ratio,
  v.description('share of 4xx responses, aborted requests (499) included (0 without requests)'),
);
const AVAILABILITY = v.pipe(ratio, v.description('share of requests that were not 5xx, 0..1 (1 without requests)'));
const APDEX = v.pipe(
  v.nullable(ratio),
  v.description(
    `Apdex at apdex_t_ms: (satisfied + tolerating / 2) / requests, satisfied ≤ T, tolerating ≤ 4T; from the latency sketch (requests within ${relativeErrorText(LATENCY_SKETCH)} of T or 4T may land on either side); null without requests`,
  ),
);
const APDEX_T = v.pipe(
  v.number(),
  v.gtValue(0),
  v.description(
    'the Apdex target T (ms) used: apdex_t_ms=, else the endpoint’s apdex: target in the alerts rules file, else [alerts] apdex_t_ms',
  ),
);

export const ApdexCounts = v.pipe(
  v.object({
    satisfied: v.pipe(count, v.description('requests ≤ T')),
    tolerating: v.pipe(count, v.description('requests > T and ≤ 4T')),
    frustrated: v.pipe(count, v.description('requests > 4T')),
  }),
  v.description('The latency values behind the Apdex score (every request, or the sample when sampling)'),
);

export const EndpointStats = v.object({
  method: v.string(),
  route: v.pipe(v.string(), v.description('route template exactly as recorded')),
  count,
  errors: ERRORS,
  error_rate_5xx: RATE_5XX,
  error_rate_4xx: RATE_4XX,
  rate_per_second: v.pipe(v.number(), v.minValue(0)),
  status_classes: StatusClasses,
  status_codes: v.record(v.pipe(v.string(), v.regex(/^\d+$/)), count),
  error_types: ErrorTypes,
  latency_ms: Distribution,
  apdex: APDEX,
  apdex_t_ms: APDEX_T,
  request_bytes: SizeStats,
  response_bytes: SizeStats,
  inflight: v.pipe(count, v.description('requests in progress now')),
  // Detailed mode only (`metrics_detailed`): absent otherwise.
  auth_attempts: v.optional(
    v.pipe(
      count,
      v.description(
        'detailed mode only: requests in the range that presented credentials or were refused with 401/403',
      ),
    ),
  ),
  auth_failures: v.optional(v.pipe(count, v.description('detailed mode only: auth attempts in the range that failed'))),
  rate_limited: v.optional(
    v.pipe(count, v.description('detailed mode only: requests in the range refused by a rate limiter')),
  ),
  db_queries: v.optional(
    v.pipe(count, v.description('detailed mode only: database queries made while serving the range')),
  ),
  db_queries_per_request: v.optional(
    v.pipe(
      v.nullable(v.pipe(v.number(), v.minValue(0))),
      v.description('detailed mode only: db_queries / requests recorded in detailed mode; null without any'),
    ),
  ),
  consumer: v.optional(ConsumerOnEndpoint),
});

export const EndpointList = v.object({
  endpoints: v.array(EndpointStats),
  total_entries: v.pipe(count, v.description('endpoints matching the filters, before limit/offset')),
  limit: count,
  offset: count,
  order_by: v.string(),
  range: Range,
});

export const ExceptionInfo = v.object({
  class: v.string(),
  count,
  last_message: v.pipe(
    v.string(),
    v.description('normalized (ids, numbers, tokens and quoted values replaced), at most 160 characters'),
  ),
  last_at: isoTime,
});

export const SeriesPoint = v.object({
  start: isoTime,
  count,
  errors: ERRORS,
  error_rate_5xx: RATE_5XX,
  error_rate_4xx: RATE_4XX,
  p50: ms,
  p95: ms,
  p99: ms,
  apdex: v.pipe(APDEX, v.description('Apdex of the slot at the answer’s apdex_t_ms; null without requests')),
});

export const SummarySeriesPoint = v.object({
  ...SeriesPoint.entries,
  rate_per_second: v.pipe(v.number(), v.minValue(0), v.description('count / step_seconds')),
});

const PerRequest = (unit: string) =>
  v.pipe(
    v.object({ count, min: ms, mean: ms, p50: ms, p90: ms, p95: ms, p99: ms, max: ms }),
    v.description(`${unit} per request since start-up, from a sketch; null when empty`),
  );

export const DetailedStats = v.pipe(
  v.object({
    requests: v.pipe(
      count,
      v.description('requests in the range recorded in detailed mode (the base of per-request figures)'),
    ),
    auth: v.object({
      attempts: v.pipe(
        count,
        v.description('requests in the range that presented credentials or were refused with 401/403'),
      ),
      failures: v.pipe(count, v.description('attempts refused with 401/403 or reported failed by the application')),
      failure_rate: v.pipe(ratio, v.description('failures / attempts; 0 without attempts')),
      by_type: v.pipe(
        v.array(v.object({ type: v.picklist(AUTH_TYPES), success: count, failure: count })),
        v.description('since start-up, per kind of credentials presented (none: refused without credentials)'),
      ),
    }),
    rate_limit: v.object({
      limited: v.pipe(count, v.description('requests in the range refused by a rate limiter (429, or reported)')),
      limit: v.pipe(
        v.nullable(v.pipe(v.number(), v.minValue(0))),
        v.description('last quota a limiter reported (since start-up); null if none did'),
      ),
      remaining: v.pipe(
        v.nullable(v.pipe(v.number(), v.minValue(0))),
        v.description('what was left of it then; null when unknown'),
      ),
      reported_at: v.nullable(isoTime),
      lowest_remaining_share: v.pipe(
        v.nullable(ratio),
        v.description('lowest remaining / limit seen since start-up (0 = exhausted)'),
      ),
    }),
    db: v.object({
      queries: v.pipe(count, v.description('database queries in the range')),
      query_ms: v.pipe(v.number(), v.minValue(0), v.description('their summed time, ms')),
      queries_per_request_mean: v.pipe(
        v.nullable(v.pipe(v.number(), v.minValue(0))),
        v.description('queries / requests in the range'),
      ),
      queries_per_request: PerRequest(`Database queries (${relativeErrorText(SIZE_SKETCH)} relative error)`),
      db_ms_per_request: PerRequest(
        `Database time in ms, over requests that queried (${relativeErrorText(LATENCY_SKETCH)} relative error),`,
      ),
    }),
    error_messages: v.pipe(
      v.array(v.object({ class: v.string(), message: v.string(), count, last_at: isoTime })),
      v.description(
        'since start-up: exception class and normalized message (ids, numbers, tokens and quoted values replaced), most frequent first; at most 20 per method, the rest under class "(other)"',
      ),
    ),
    error_samples: v.pipe(
      v.array(
        v.object({
          at: isoTime,
          status: v.pipe(v.number(), v.safeInteger()),
          class: v.string(),
          message: v.pipe(v.string(), v.description('normalized like error_messages')),
          frames: v.pipe(v.array(v.string()), v.description('stack frames, without the message line')),
          trace_id: v.pipe(v.nullable(v.string()), v.description('the active trace when the request started')),
        }),
      ),
      v.description('since start-up: 5xx responses sampled uniformly (reservoir), oldest first'),
    ),
    exemplars: v.pipe(
      v.array(
        v.object({
          trace_id: v.string(),
          span_id: v.nullable(v.string()),
          value_ms: v.pipe(v.number(), v.minValue(0)),
          at: isoTime,
        }),
      ),
      v.description('since start-up: the latest traced request per power-of-two latency range (ms), fastest first'),
    ),
  }),
  v.description('Detailed mode (metrics_detailed): auth, rate limits, database queries, error detail, trace exemplars'),
);

export const EndpointDetail = v.object({
  ...v.omit(EndpointStats, ['method']).entries,
  method: v.pipe(v.nullable(v.string()), v.description('the method asked for, null for all methods merged')),
  methods: v.pipe(v.array(v.string()), v.description('methods recorded on this route')),
  by_method: v.pipe(v.array(EndpointStats), v.description('one per method, each with its own apdex_t_ms')),
  apdex_counts: ApdexCounts,
  exceptions: v.pipe(
    v.array(ExceptionInfo),
    v.description('exception classes since start-up (not windowed), most frequent first, at most 20'),
  ),
  detail: v.optional(describedRef(DetailedStats, 'detailed mode only; all methods merged unless `method` is given')),
  consumers: v.optional(
    v.pipe(
      v.array(EndpointConsumer),
      v.description('with metrics_consumers: top consumers since start-up, all methods listed (largest first)'),
    ),
  ),
  series: v.object({
    step_seconds: v.pipe(v.number(), v.minValue(0)),
    points: v.pipe(v.array(SeriesPoint), v.description('oldest first, one per slot, empty slots included')),
  }),
  range: Range,
});

export const TopEntry = v.object({
  method: v.string(),
  route: v.string(),
  count,
  errors: ERRORS,
  error_rate_5xx: RATE_5XX,
  error_rate_4xx: RATE_4XX,
  p95: ms,
  apdex: APDEX,
  apdex_t_ms: APDEX_T,
});

export const CHANGE_FIELDS = [
  'count',
  'rate_per_second',
  'errors',
  'error_rate_5xx',
  'error_rate_4xx',
  'availability',
  'p50',
  'p95',
  'p99',
] as const;

export const PeriodTotals = v.object({
  from: isoTime,
  to: isoTime,
  seconds: v.pipe(v.number(), v.minValue(0)),
  count,
  rate_per_second: v.pipe(v.number(), v.minValue(0)),
  errors: ERRORS,
  error_rate_5xx: RATE_5XX,
  error_rate_4xx: RATE_4XX,
  availability: AVAILABILITY,
  p50: ms,
  p95: ms,
  p99: ms,
});

const Change = v.object({
  absolute: v.pipe(v.nullable(v.number()), v.description('current − previous; null when either is null')),
  percent: v.pipe(
    v.nullable(v.number()),
    v.description('100 · (current − previous) / previous; null when previous is 0 or null'),
  ),
});

export const Summary = v.object({
  range: Range,
  endpoints: v.pipe(count, v.description('endpoints known')),
  active_endpoints: v.pipe(count, v.description('endpoints with at least one request in the range')),
  count,
  errors: ERRORS,
  error_rate_5xx: RATE_5XX,
  error_rate_4xx: RATE_4XX,
  availability: AVAILABILITY,
  rate_per_second: v.pipe(v.number(), v.minValue(0)),
  status_classes: StatusClasses,
  error_types: ErrorTypes,
  latency_ms: describedRef(Distribution, 'percentiles of all requests, from merged sketches (never averaged)'),
  apdex: v.pipe(
    APDEX,
    v.description('Apdex of all requests (merged latency sketch) at apdex_t_ms; null without requests'),
  ),
  apdex_t_ms: v.pipe(
    v.number(),
    v.gtValue(0),
    v.description('T (ms) of the overall apdex: apdex_t_ms=, else [alerts] apdex_t_ms'),
  ),
  apdex_counts: ApdexCounts,
  inflight: count,
  overflowed_records: count,
  auth_attempts: v.optional(
    v.pipe(count, v.description('detailed mode only: totals over every endpoint in the range')),
  ),
  auth_failures: v.optional(count),
  rate_limited: v.optional(count),
  db_queries: v.optional(count),
  db_query_ms: v.optional(v.pipe(v.number(), v.minValue(0))),
  top: v.object({
    by_count: v.array(TopEntry),
    by_errors: v.pipe(v.array(TopEntry), v.description('most requests with an error type')),
    by_error_rate_5xx: v.pipe(v.array(TopEntry), v.description('highest share of 5xx responses')),
    by_p95: v.array(TopEntry),
  }),
  comparison: v.object({
    previous: v.pipe(
      v.nullable(PeriodTotals),
      v.description(
        'the period of the same length just before (adjacent, not overlapping), or null when it is not fully covered',
      ),
    ),
    change: v.nullable(
      v.object(
        Object.fromEntries(CHANGE_FIELDS.map((f) => [f, Change])) as Record<
          (typeof CHANGE_FIELDS)[number],
          typeof Change
        >,
      ),
    ),
    reason: v.pipe(v.nullable(v.string()), v.description('why previous and change are null')),
  }),
  series: v.pipe(
    v.object({
      step_seconds: v.pipe(v.number(), v.minValue(0)),
      points: v.pipe(v.array(SummarySeriesPoint), v.description('oldest first, one per slot, empty slots included')),
    }),
    v.description('every endpoint merged per slot of the range (counters added, sketches merged, never averaged)'),
  ),
});

const CheckStatus = v.picklist(['ok', 'degraded', 'unhealthy', 'insufficient_data']);

const Check = v.object({
  value: v.nullable(v.number()),
  degraded_above: v.number(),
  unhealthy_above: v.number(),
  status: CheckStatus,
});

export const ComponentState = v.object({
  name: v.string(),
  state: v.picklist(['ok', 'degraded', 'failing', 'off']),
  circuit: v.optional(v.picklist(['closed', 'open', 'half-open'])),
  last_error: v.optional(v.string()),
  last_error_at: v.optional(v.string()),
  last_success_at: v.optional(v.string()),
  counters: v.optional(v.record(v.string(), v.number())),
});

export const Health = v.object({
  status: v.picklist(['healthy', 'degraded', 'unhealthy']),
  reasons: v.pipe(v.array(v.string()), v.description('why the status is not healthy')),
  range: Range,
  traffic: v.object({ count, rate_per_second: v.pipe(v.number(), v.minValue(0)), min_requests: count }),
  checks: v.object({
    p95_ms: Check,
    error_rate_5xx: v.pipe(Check, v.description('share of 5xx responses (4xx are the clients’ errors, not the API’s)')),
  }),
  components: v.pipe(v.array(ComponentState), v.description('exporters, stores and other background parts')),
  process: v.object({
    cpu_percent: v.pipe(
      v.nullable(v.pipe(v.number(), v.minValue(0))),
      v.description('of one core, over the last 10–20 s (first call: since start)'),
    ),
    rss_bytes: count,
    heap_used_bytes: count,
    heap_total_bytes: count,
    event_loop_delay_p99_ms: v.nullable(v.pipe(v.number(), v.minValue(0))),
    event_loop_utilization: v.nullable(ratio),
    uptime_seconds: v.pipe(v.number(), v.minValue(0)),
  }),
  meter: v.object({
    endpoints: count,
    overflowed_endpoints: count,
    overflowed_records: count,
    latency_clamped: v.pipe(
      count,
      v.description(
        "sampled durations outside the latency sketch's range (≤ ~1 µs or > ~4.66 h), counted in its end buckets",
      ),
    ),
  }),
});

export const Problem = v.object({
  detail: v.string(),
  status: v.pipe(v.number(), v.safeInteger()),
  title: v.string(),
  parameter: v.optional(v.pipe(v.string(), v.description('the query parameter at fault'))),
  allowed: v.optional(
    v.pipe(v.array(v.string()), v.description('the values it accepts, where they form a closed set')),
  ),
});

export type DistributionJson = v.InferOutput<typeof Distribution>;
export type SizeStatsJson = v.InferOutput<typeof SizeStats>;
export type RangeJson = v.InferOutput<typeof Range>;
export type EndpointStatsJson = v.InferOutput<typeof EndpointStats>;
export type EndpointListJson = v.InferOutput<typeof EndpointList>;
export type EndpointDetailJson = v.InferOutput<typeof EndpointDetail>;
export type DetailedStatsJson = v.InferOutput<typeof DetailedStats>;
export type SeriesPointJson = v.InferOutput<typeof SeriesPoint>;
export type SummarySeriesPointJson = v.InferOutput<typeof SummarySeriesPoint>;
export type TopEntryJson = v.InferOutput<typeof TopEntry>;
export type PeriodTotalsJson = v.InferOutput<typeof PeriodTotals>;
export type SummaryJson = v.InferOutput<typeof Summary>;
export type HealthJson = v.InferOutput<typeof Health>;
export type ComponentStateJson = v.InferOutput<typeof ComponentState>;

/** Components of the OpenAPI document, by name (typed loosely: only the JSON Schema conversion reads it). */
export const COMPONENTS: Readonly<Record<string, v.GenericSchema>> = {
  Distribution,
  SizeStats,
  StatusClasses,
  ErrorTypes,
  ApdexCounts,
  Range,
  EndpointStats,
  EndpointList,
  ExceptionInfo,
  SeriesPoint,
  SummarySeriesPoint,
  DetailedStats,
  EndpointDetail,
  TopEntry,
  PeriodTotals,
  Summary,
  ComponentState,
  Health,
  Problem,
  ...CONSUMER_COMPONENTS,
};
