import * as v from 'valibot';
import { relativeErrorText } from '../core/sketch.js';
import { CONSUMER_LATENCY_SKETCH } from '../core/consumers.js';

/** Response schemas of the consumer routes (docs/consumers.md); part of the OpenAPI components. */

// Leaves typed by what they produce: their pipes' full types would be repeated in every declaration.
const count: v.GenericSchema<number> = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const ms: v.GenericSchema<number | null> = v.nullable(v.pipe(v.number(), v.minValue(0)));

export const ConsumerOnEndpoint = v.pipe(
  v.object({
    id: v.string(),
    requests: v.pipe(count, v.description("this consumer's requests on the endpoint while it was tracked (exact)")),
    errors: v.pipe(count, v.description('of them, answered ≥ 400 or with an error')),
    source: v.pipe(
      v.picklist(['memory', 'store']),
      v.description('memory: since start-up; store: per-consumer endpoint rows of the snapshot store over the range'),
    ),
    since: v.optional(
      v.pipe(v.string(), v.isoTimestamp(), v.description('store: start of the range read (snapped to the interval)')),
    ),
    until: v.optional(v.pipe(v.string(), v.isoTimestamp(), v.description('store: end of the range read'))),
  }),
  v.description(
    'With the `consumer` filter only: that consumer on this endpoint — from the store over a stored range, else since start-up',
  ),
);

export const ConsumerStats = v.object({
  id: v.pipe(
    v.string(),
    v.description('as the consumer function or header gave it; `sub:…` / `key:…` are keyed hashes of credentials'),
  ),
  group: v.nullable(v.string()),
  requests: v.pipe(
    count,
    v.description('Space-Saving estimate: the true count lies in [requests - error_bound, requests]'),
  ),
  error_bound: v.pipe(count, v.description('0 when the count is exact')),
  tracked_requests: v.pipe(
    count,
    v.description('requests counted while the consumer held its counter (exact); the figures below cover these'),
  ),
  errors: v.pipe(count, v.description('answered ≥ 400 or with an error (exception, validation, aborted)')),
  server_errors: v.pipe(count, v.description('answered 5xx')),
  error_rate: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  latency_ms: v.pipe(
    v.object({ p50: ms, p95: ms, p99: ms, max: ms }),
    v.description(`percentiles within ${relativeErrorText(CONSUMER_LATENCY_SKETCH)}, null when empty`),
  ),
  endpoints_used: count,
});

export const ConsumerRange = v.object({
  source: v.pipe(
    v.picklist(['memory', 'store']),
    v.description('memory: since start-up (Space-Saving estimates); store: per-interval rows of the snapshot store'),
  ),
  since: v.pipe(
    v.string(),
    v.isoTimestamp(),
    v.description('memory: start-up; store: start of the range answered (snapped to the snapshot interval)'),
  ),
  until: v.optional(v.pipe(v.string(), v.isoTimestamp(), v.description('store: end of the range answered'))),
  requests: v.pipe(count, v.description('every request recorded with consumers on (unknown consumers included)')),
  other_requests: v.pipe(count, v.description("requests not in any listed consumer's tracked figures")),
  unlisted_bound: v.pipe(count, v.description('no consumer missing from the list has more requests than this')),
  top: v.pipe(count, v.description('K, metrics_consumer_top')),
});

export const ConsumerList = v.object({
  consumers: v.array(ConsumerStats),
  total_entries: count,
  limit: count,
  offset: count,
  range: ConsumerRange,
});

export const ConsumerEndpoint = v.object({
  method: v.string(),
  route: v.string(),
  requests: count,
  errors: count,
});

export const ConsumerDetail = v.object({
  ...ConsumerStats.entries,
  endpoints: v.pipe(v.array(ConsumerEndpoint), v.description('by requests, largest first')),
  range: ConsumerRange,
});

export const EndpointConsumer = v.object({
  id: v.string(),
  requests: v.pipe(count, v.description("Space-Saving estimate of this endpoint's table")),
  error_bound: count,
});

export type ConsumerStatsJson = v.InferOutput<typeof ConsumerStats>;
export type ConsumerListJson = v.InferOutput<typeof ConsumerList>;
export type ConsumerDetailJson = v.InferOutput<typeof ConsumerDetail>;
export type ConsumerRangeJson = v.InferOutput<typeof ConsumerRange>;

export const CONSUMER_COMPONENTS: Readonly<Record<string, v.GenericSchema>> = {
  ConsumerOnEndpoint,
  ConsumerStats,
  ConsumerRange,
  ConsumerList,
  ConsumerEndpoint,
  ConsumerDetail,
  EndpointConsumer,
};
