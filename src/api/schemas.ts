import { z } from 'zod';
import { AUTH_TYPES } from '../core/detail.js';
import { LATENCY_SKETCH, relativeErrorText, SIZE_SKETCH } from '../core/sketch.js';
import { CONSUMER_COMPONENTS, ConsumerOnEndpoint, EndpointConsumer } from './consumer-schemas.js';

/**
 * Response schemas of the metrics REST API. The OpenAPI document is generated from them
 * (`z.toJSONSchema`), the route code builds values of their inferred types, and the tests validate real
 * answers against the generated document, so the three cannot drift apart.
 */

const count = z.number().int().min(0);
const ms = z.number().min(0).nullable();
const ratio = z.number().min(0).max(1);
const isoTime = z.iso.datetime({ offset: true }).describe('ISO 8601 date-time, UTC');

export const Distribution = z
  .object({
    count: count.describe('values the distribution was built from (every request, or the sample when sampling)'),
    min: ms,
    mean: ms,
    p50: ms,
    p90: ms,
    p95: ms,
    p99: ms,
    max: ms,
  })
  .describe(
    `Latency in milliseconds; percentiles within ${relativeErrorText(LATENCY_SKETCH)} of a true value of that rank, null when empty`,
  );

export const SizeStats = z
  .object({
    count: count.describe('requests whose body size was known'),
    total: z.number().min(0).describe('bytes'),
    mean: ms,
    max: ms,
    p50: ms.describe('only for window=all (size sketches are kept since start-up), else null'),
    p95: ms,
  })
  .describe('Body sizes in bytes');

export const StatusClasses = z.object({ '1xx': count, '2xx': count, '3xx': count, '4xx': count, '5xx': count });

export const ErrorTypes = z
  .object({ server_error: count, client_error: count, exception: count, validation: count, aborted: count })
  .describe('Exclusive error types: a request counts under at most one');

export const Range = z
  .object({
    window: z.string().nullable().describe('the window asked for, null for start/end'),
    from: isoTime,
    to: isoTime,
    seconds: z.number().min(0).describe('seconds the data actually covers (rates divide by this)'),
    resolution_seconds: z.number().min(0).describe('slot length the range was read at; 0 for window=all'),
    source: z.enum(['memory', 'history', 'memory+history']),
  })
  .describe('The time range an answer covers, after snapping to whole slots');

const ERRORS = count.describe(
  'requests with an error type (any of error_types: 5xx, 4xx, exceptions, validation, aborted)',
);
const RATE_5XX = ratio.describe('share of 5xx responses (0 without requests)');
const RATE_4XX = ratio.describe('share of 4xx responses, aborted requests (499) included (0 without requests)');
const AVAILABILITY = ratio.describe('share of requests that were not 5xx, 0..1 (1 without requests)');
const APDEX = ratio
  .nullable()
  .describe(
    `Apdex at apdex_t_ms: (satisfied + tolerating / 2) / requests, satisfied ≤ T, tolerating ≤ 4T; from the latency sketch (requests within ${relativeErrorText(LATENCY_SKETCH)} of T or 4T may land on either side); null without requests`,
  );
const APDEX_T = z
  .number()
  .positive()
  .describe(
    'the Apdex target T (ms) used: apdex_t_ms=, else the endpoint’s apdex: target in the alerts rules file, else [alerts] apdex_t_ms',
  );

export const ApdexCounts = z
  .object({
    satisfied: count.describe('requests ≤ T'),
    tolerating: count.describe('requests > T and ≤ 4T'),
    frustrated: count.describe('requests > 4T'),
  })
  .describe('The latency values behind the Apdex score (every request, or the sample when sampling)');

export const EndpointStats = z.object({
  method: z.string(),
  route: z.string().describe('route template exactly as recorded'),
  count,
  errors: ERRORS,
  error_rate_5xx: RATE_5XX,
  error_rate_4xx: RATE_4XX,
  rate_per_second: z.number().min(0),
  status_classes: StatusClasses,
  status_codes: z.record(z.string().regex(/^\d+$/), count),
  error_types: ErrorTypes,
  latency_ms: Distribution,
  apdex: APDEX,
  apdex_t_ms: APDEX_T,
  request_bytes: SizeStats,
  response_bytes: SizeStats,
  inflight: count.describe('requests in progress now'),
  // Detailed mode only (`metrics_detailed`): absent otherwise.
  auth_attempts: count
    .optional()
    .describe('detailed mode only: requests in the range that presented credentials or were refused with 401/403'),
  auth_failures: count.optional().describe('detailed mode only: auth attempts in the range that failed'),
  rate_limited: count.optional().describe('detailed mode only: requests in the range refused by a rate limiter'),
  db_queries: count.optional().describe('detailed mode only: database queries made while serving the range'),
  db_queries_per_request: z
    .number()
    .min(0)
    .nullable()
    .optional()
    .describe('detailed mode only: db_queries / requests recorded in detailed mode; null without any'),
  consumer: ConsumerOnEndpoint.optional(),
});

export const EndpointList = z.object({
  endpoints: z.array(EndpointStats),
  total_entries: count.describe('endpoints matching the filters, before limit/offset'),
  limit: count,
  offset: count,
  order_by: z.string(),
  range: Range,
});

export const ExceptionInfo = z.object({
  class: z.string(),
  count,
  last_message: z
    .string()
    .describe('normalized (ids, numbers, tokens and quoted values replaced), at most 160 characters'),
  last_at: isoTime,
});

export const SeriesPoint = z.object({
  start: isoTime,
  count,
  errors: ERRORS,
  error_rate_5xx: RATE_5XX,
  error_rate_4xx: RATE_4XX,
  p50: ms,
  p95: ms,
  p99: ms,
  apdex: APDEX.describe('Apdex of the slot at the answer’s apdex_t_ms; null without requests'),
});

export const SummarySeriesPoint = SeriesPoint.extend({
  rate_per_second: z.number().min(0).describe('count / step_seconds'),
});

const PerRequest = (unit: string) =>
  z
    .object({ count, min: ms, mean: ms, p50: ms, p90: ms, p95: ms, p99: ms, max: ms })
    .describe(`${unit} per request since start-up, from a sketch; null when empty`);

export const DetailedStats = z
  .object({
    requests: count.describe('requests in the range recorded in detailed mode (the base of per-request figures)'),
    auth: z.object({
      attempts: count.describe('requests in the range that presented credentials or were refused with 401/403'),
      failures: count.describe('attempts refused with 401/403 or reported failed by the application'),
      failure_rate: ratio.describe('failures / attempts; 0 without attempts'),
      by_type: z
        .array(z.object({ type: z.enum(AUTH_TYPES), success: count, failure: count }))
        .describe('since start-up, per kind of credentials presented (none: refused without credentials)'),
    }),
    rate_limit: z.object({
      limited: count.describe('requests in the range refused by a rate limiter (429, or reported)'),
      limit: z.number().min(0).nullable().describe('last quota a limiter reported (since start-up); null if none did'),
      remaining: z.number().min(0).nullable().describe('what was left of it then; null when unknown'),
      reported_at: isoTime.nullable(),
      lowest_remaining_share: ratio.nullable().describe('lowest remaining / limit seen since start-up (0 = exhausted)'),
    }),
    db: z.object({
      queries: count.describe('database queries in the range'),
      query_ms: z.number().min(0).describe('their summed time, ms'),
      queries_per_request_mean: z.number().min(0).nullable().describe('queries / requests in the range'),
      queries_per_request: PerRequest(`Database queries (${relativeErrorText(SIZE_SKETCH)} relative error)`),
      db_ms_per_request: PerRequest(
        `Database time in ms, over requests that queried (${relativeErrorText(LATENCY_SKETCH)} relative error),`,
      ),
    }),
    error_messages: z
      .array(z.object({ class: z.string(), message: z.string(), count, last_at: isoTime }))
      .describe(
        'since start-up: exception class and normalized message (ids, numbers, tokens and quoted values replaced), most frequent first; at most 20 per method, the rest under class "(other)"',
      ),
    error_samples: z
      .array(
        z.object({
          at: isoTime,
          status: z.number().int(),
          class: z.string(),
          message: z.string().describe('normalized like error_messages'),
          frames: z.array(z.string()).describe('stack frames, without the message line'),
          trace_id: z.string().nullable().describe('the active trace when the request started'),
        }),
      )
      .describe('since start-up: 5xx responses sampled uniformly (reservoir), oldest first'),
    exemplars: z
      .array(
        z.object({ trace_id: z.string(), span_id: z.string().nullable(), value_ms: z.number().min(0), at: isoTime }),
      )
      .describe('since start-up: the latest traced request per power-of-two latency range (ms), fastest first'),
  })
  .describe('Detailed mode (metrics_detailed): auth, rate limits, database queries, error detail, trace exemplars');

export const EndpointDetail = EndpointStats.omit({ method: true }).extend({
  method: z.string().nullable().describe('the method asked for, null for all methods merged'),
  methods: z.array(z.string()).describe('methods recorded on this route'),
  by_method: z.array(EndpointStats).describe('one per method, each with its own apdex_t_ms'),
  apdex_counts: ApdexCounts,
  exceptions: z
    .array(ExceptionInfo)
    .describe('exception classes since start-up (not windowed), most frequent first, at most 20'),
  detail: DetailedStats.optional().describe('detailed mode only; all methods merged unless `method` is given'),
  consumers: z
    .array(EndpointConsumer)
    .optional()
    .describe('with metrics_consumers: top consumers since start-up, all methods listed (largest first)'),
  series: z.object({
    step_seconds: z.number().min(0),
    points: z.array(SeriesPoint).describe('oldest first, one per slot, empty slots included'),
  }),
  range: Range,
});

export const TopEntry = z.object({
  method: z.string(),
  route: z.string(),
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

export const PeriodTotals = z.object({
  from: isoTime,
  to: isoTime,
  seconds: z.number().min(0),
  count,
  rate_per_second: z.number().min(0),
  errors: ERRORS,
  error_rate_5xx: RATE_5XX,
  error_rate_4xx: RATE_4XX,
  availability: AVAILABILITY,
  p50: ms,
  p95: ms,
  p99: ms,
});

const Change = z.object({
  absolute: z.number().nullable().describe('current − previous; null when either is null'),
  percent: z.number().nullable().describe('100 · (current − previous) / previous; null when previous is 0 or null'),
});

export const Summary = z.object({
  range: Range,
  endpoints: count.describe('endpoints known'),
  active_endpoints: count.describe('endpoints with at least one request in the range'),
  count,
  errors: ERRORS,
  error_rate_5xx: RATE_5XX,
  error_rate_4xx: RATE_4XX,
  availability: AVAILABILITY,
  rate_per_second: z.number().min(0),
  status_classes: StatusClasses,
  error_types: ErrorTypes,
  latency_ms: Distribution.describe('percentiles of all requests, from merged sketches (never averaged)'),
  apdex: APDEX.describe('Apdex of all requests (merged latency sketch) at apdex_t_ms; null without requests'),
  apdex_t_ms: z.number().positive().describe('T (ms) of the overall apdex: apdex_t_ms=, else [alerts] apdex_t_ms'),
  apdex_counts: ApdexCounts,
  inflight: count,
  overflowed_records: count,
  auth_attempts: count.optional().describe('detailed mode only: totals over every endpoint in the range'),
  auth_failures: count.optional(),
  rate_limited: count.optional(),
  db_queries: count.optional(),
  db_query_ms: z.number().min(0).optional(),
  top: z.object({
    by_count: z.array(TopEntry),
    by_errors: z.array(TopEntry).describe('most requests with an error type'),
    by_error_rate_5xx: z.array(TopEntry).describe('highest share of 5xx responses'),
    by_p95: z.array(TopEntry),
  }),
  comparison: z.object({
    previous: PeriodTotals.nullable().describe(
      'the period of the same length just before (adjacent, not overlapping), or null when it is not fully covered',
    ),
    change: z
      .object(
        Object.fromEntries(CHANGE_FIELDS.map((f) => [f, Change])) as Record<
          (typeof CHANGE_FIELDS)[number],
          typeof Change
        >,
      )
      .nullable(),
    reason: z.string().nullable().describe('why previous and change are null'),
  }),
  series: z
    .object({
      step_seconds: z.number().min(0),
      points: z.array(SummarySeriesPoint).describe('oldest first, one per slot, empty slots included'),
    })
    .describe('every endpoint merged per slot of the range (counters added, sketches merged, never averaged)'),
});

const CheckStatus = z.enum(['ok', 'degraded', 'unhealthy', 'insufficient_data']);

const Check = z.object({
  value: z.number().nullable(),
  degraded_above: z.number(),
  unhealthy_above: z.number(),
  status: CheckStatus,
});

export const ComponentState = z.object({
  name: z.string(),
  state: z.enum(['ok', 'degraded', 'failing', 'off']),
  circuit: z.enum(['closed', 'open', 'half-open']).optional(),
  last_error: z.string().optional(),
  last_error_at: z.string().optional(),
  last_success_at: z.string().optional(),
  counters: z.record(z.string(), z.number()).optional(),
});

export const Health = z.object({
  status: z.enum(['healthy', 'degraded', 'unhealthy']),
  reasons: z.array(z.string()).describe('why the status is not healthy'),
  range: Range,
  traffic: z.object({ count, rate_per_second: z.number().min(0), min_requests: count }),
  checks: z.object({
    p95_ms: Check,
    error_rate_5xx: Check.describe('share of 5xx responses (4xx are the clients’ errors, not the API’s)'),
  }),
  components: z.array(ComponentState).describe('exporters, stores and other background parts'),
  process: z.object({
    cpu_percent: z.number().min(0).nullable().describe('of one core, over the last 10–20 s (first call: since start)'),
    rss_bytes: count,
    heap_used_bytes: count,
    heap_total_bytes: count,
    event_loop_delay_p99_ms: z.number().min(0).nullable(),
    event_loop_utilization: ratio.nullable(),
    uptime_seconds: z.number().min(0),
  }),
  meter: z.object({
    endpoints: count,
    overflowed_endpoints: count,
    overflowed_records: count,
    latency_clamped: count.describe(
      "sampled durations outside the latency sketch's range (≤ ~1 µs or > ~4.66 h), counted in its end buckets",
    ),
  }),
});

export const Problem = z.object({
  detail: z.string(),
  status: z.number().int(),
  title: z.string(),
  parameter: z.string().optional().describe('the query parameter at fault'),
  allowed: z.array(z.string()).optional().describe('the values it accepts, where they form a closed set'),
});

export type DistributionJson = z.infer<typeof Distribution>;
export type SizeStatsJson = z.infer<typeof SizeStats>;
export type RangeJson = z.infer<typeof Range>;
export type EndpointStatsJson = z.infer<typeof EndpointStats>;
export type EndpointListJson = z.infer<typeof EndpointList>;
export type EndpointDetailJson = z.infer<typeof EndpointDetail>;
export type DetailedStatsJson = z.infer<typeof DetailedStats>;
export type SeriesPointJson = z.infer<typeof SeriesPoint>;
export type SummarySeriesPointJson = z.infer<typeof SummarySeriesPoint>;
export type TopEntryJson = z.infer<typeof TopEntry>;
export type PeriodTotalsJson = z.infer<typeof PeriodTotals>;
export type SummaryJson = z.infer<typeof Summary>;
export type HealthJson = z.infer<typeof Health>;
export type ComponentStateJson = z.infer<typeof ComponentState>;

/** Components of the OpenAPI document, by name. */
export const COMPONENTS = {
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
} as const;
