import { z } from 'zod';
import { relativeErrorText } from '../core/sketch.js';
import { CONSUMER_LATENCY_SKETCH } from '../core/consumers.js';

/** Response schemas of the consumer routes (docs/consumers.md); part of the OpenAPI components. */

const count = z.number().int().min(0);
const ms = z.number().min(0).nullable();

export const ConsumerOnEndpoint = z
  .object({
    id: z.string(),
    requests: count.describe("this consumer's requests on the endpoint while it was tracked (exact)"),
    errors: count.describe('of them, answered ≥ 400 or with an error'),
    source: z
      .enum(['memory', 'store'])
      .describe('memory: since start-up; store: per-consumer endpoint rows of the snapshot store over the range'),
    since: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('store: start of the range read (snapped to the interval)'),
    until: z.iso.datetime({ offset: true }).optional().describe('store: end of the range read'),
  })
  .describe(
    'With the `consumer` filter only: that consumer on this endpoint — from the store over a stored range, else since start-up',
  );

export const ConsumerStats = z.object({
  id: z
    .string()
    .describe('as the consumer function or header gave it; `sub:…` / `key:…` are keyed hashes of credentials'),
  group: z.string().nullable(),
  requests: count.describe('Space-Saving estimate: the true count lies in [requests - error_bound, requests]'),
  error_bound: count.describe('0 when the count is exact'),
  tracked_requests: count.describe(
    'requests counted while the consumer held its counter (exact); the figures below cover these',
  ),
  errors: count.describe('answered ≥ 400 or with an error (exception, validation, aborted)'),
  server_errors: count.describe('answered 5xx'),
  error_rate: z.number().min(0).max(1),
  latency_ms: z
    .object({ p50: ms, p95: ms, p99: ms, max: ms })
    .describe(`percentiles within ${relativeErrorText(CONSUMER_LATENCY_SKETCH)}, null when empty`),
  endpoints_used: count,
});

export const ConsumerRange = z.object({
  source: z
    .enum(['memory', 'store'])
    .describe('memory: since start-up (Space-Saving estimates); store: per-interval rows of the snapshot store'),
  since: z.iso
    .datetime({ offset: true })
    .describe('memory: start-up; store: start of the range answered (snapped to the snapshot interval)'),
  until: z.iso.datetime({ offset: true }).optional().describe('store: end of the range answered'),
  requests: count.describe('every request recorded with consumers on (unknown consumers included)'),
  other_requests: count.describe("requests not in any listed consumer's tracked figures"),
  unlisted_bound: count.describe('no consumer missing from the list has more requests than this'),
  top: count.describe('K, metrics_consumer_top'),
});

export const ConsumerList = z.object({
  consumers: z.array(ConsumerStats),
  total_entries: count,
  limit: count,
  offset: count,
  range: ConsumerRange,
});

export const ConsumerEndpoint = z.object({
  method: z.string(),
  route: z.string(),
  requests: count,
  errors: count,
});

export const ConsumerDetail = ConsumerStats.extend({
  endpoints: z.array(ConsumerEndpoint).describe('by requests, largest first'),
  range: ConsumerRange,
});

export const EndpointConsumer = z.object({
  id: z.string(),
  requests: count.describe("Space-Saving estimate of this endpoint's table"),
  error_bound: count,
});

export type ConsumerStatsJson = z.infer<typeof ConsumerStats>;
export type ConsumerListJson = z.infer<typeof ConsumerList>;
export type ConsumerDetailJson = z.infer<typeof ConsumerDetail>;
export type ConsumerRangeJson = z.infer<typeof ConsumerRange>;

export const CONSUMER_COMPONENTS = {
  ConsumerOnEndpoint,
  ConsumerStats,
  ConsumerRange,
  ConsumerList,
  ConsumerEndpoint,
  ConsumerDetail,
  EndpointConsumer,
} as const;
