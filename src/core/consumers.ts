/**
 * Consumers: who calls which endpoint. The meter holds a {@link Consumers} when `metrics_consumers` is
 * on; adapters call {@link noteConsumer} right after recording a request. See docs/consumers.md.
 */
import type { ApimeterConfig } from './config.js';
import type { EndpointStats } from './endpoint.js';
import { createError } from '../errors.js';
import { normalizeMethod } from './methods.js';
import { ErrorKind } from './record.js';
import { ConsumerIdentifier, UNKNOWN_CONSUMER } from './consumers/identify.js';
import type { ConsumerFunction, RequestHeaders } from './consumers/identify.js';
import { ConsumerTracker } from './consumers/tracker.js';

export { ConsumerIdentifier, jwtSubject, OTHER_CONSUMER, UNKNOWN_CONSUMER } from './consumers/identify.js';
export type { ConsumerFunction, IdentifyRules, RequestHeaders } from './consumers/identify.js';
export { ConsumerTracker, CONSUMER_LATENCY_SKETCH } from './consumers/tracker.js';
export type { ConsumerDelta, ConsumerFigures, TrackerLimits } from './consumers/tracker.js';
export { SpaceSaving } from './consumers/space-saving.js';

/** The meter options that belong to consumers (functions, so not configuration keys). */
export interface ConsumerOptions {
  /**
   * The consumer of a request, for every adapter that has no `consumer` option of its own; called with
   * the adapter's request object (Fastify request, Express/node `req`, Hono context). Return a string id;
   * anything else, or throwing, records the request under `unknown`.
   */
  consumer?: ConsumerFunction<never>;
  /** The group of a consumer id (e.g. a plan or tenant kind); overrides `metrics_consumer_groups`. */
  consumerGroup?: (id: string) => unknown;
}

const MIN_SECRET = 16;

export class Consumers {
  readonly tracker: ConsumerTracker;
  readonly identifier: ConsumerIdentifier;
  /** Consumer ids and groups Prometheus may export as a label. */
  readonly labels: ReadonlySet<string>;
  private fallback: ConsumerFunction<unknown> | null;
  private readonly groups: ReadonlyMap<string, string>;
  private readonly groupFn: ((id: string) => unknown) | null;
  /** Longest id taken from a header or a consumer function (`metrics_consumer_max_length`). */
  private readonly maxLength: number;

  constructor(config: ApimeterConfig, options: ConsumerOptions) {
    const credentials = config.metricsConsumerJwt || config.metricsConsumerApiKeyHeaders.length > 0;
    if (credentials && config.metricsConsumerSecret.length < MIN_SECRET) {
      throw createError(
        'APIMETER_ERR_CONFIG_INVALID',
        `[api] metrics_consumer_secret must hold at least ${MIN_SECRET} characters when metrics_consumer_jwt or ` +
          'metrics_consumer_api_key_headers is set (ids derived from credentials are keyed hashes)',
      );
    }
    this.identifier = new ConsumerIdentifier({
      header: config.metricsConsumerHeader.toLowerCase(),
      jwt: config.metricsConsumerJwt,
      apiKeyHeaders: config.metricsConsumerApiKeyHeaders.map((h) => h.toLowerCase()),
      maxLength: config.metricsConsumerMaxLength,
      secret: config.metricsConsumerSecret,
    });
    this.tracker = new ConsumerTracker({
      top: config.metricsConsumerTop,
      endpointTop: config.metricsConsumerEndpointTop,
      maxEndpoints: config.metricsMaxEndpoints,
      maxIdLength: Math.max(config.metricsConsumerMaxLength, 20),
    });
    this.fallback = typeof options.consumer === 'function' ? (options.consumer as ConsumerFunction<unknown>) : null;
    this.groups = new Map(
      config.metricsConsumerGroups.map((pair) => {
        const eq = pair.indexOf('=');
        return [pair.slice(0, eq), pair.slice(eq + 1)];
      }),
    );
    this.groupFn = typeof options.consumerGroup === 'function' ? options.consumerGroup : null;
    this.labels = new Set(config.metricsConsumerLabels);
    this.maxLength = config.metricsConsumerMaxLength;
  }

  /**
   * Requests counted as unknown for bad input: a function that threw or answered a non-string, a
   * malformed credential, an id that is empty, too long or holds control characters.
   */
  get failures(): number {
    return this.identifier.failures + this.tracker.rejected;
  }

  /**
   * Identifies and counts one finished request. `fn` is the adapter's own consumer function (null: the
   * meter's, then the configured headers). Never throws.
   */
  observe<R>(
    ep: EndpointStats,
    fn: ConsumerFunction<R> | null | undefined,
    request: R,
    headers: RequestHeaders | undefined,
    status: number,
    durationMs: number,
    errored: boolean,
    latencyIndex = NaN,
  ): void {
    try {
      const use = fn ?? this.fallback;
      const identifier = this.identifier;
      const id = identifier.identify(use, request, headers);
      this.tracker.record(ep, id, status, durationMs, errored, latencyIndex, identifier.unchecked ? this.maxLength : 0);
    } catch {
      // metrics never fail a request
    }
  }

  /** Sets the consumer function (an adapter's `consumer` option): one per meter, the last one given wins. */
  useFunction(fn: ConsumerFunction<never>): void {
    this.fallback = fn as ConsumerFunction<unknown>;
  }

  /** The group of a consumer id, or null. */
  groupOf(id: string): string | null {
    if (this.groupFn !== null) {
      try {
        const g = this.groupFn(id);
        return typeof g === 'string' && g !== '' ? g.slice(0, 128) : null;
      } catch {
        return null;
      }
    }
    return this.groups.get(id) ?? null;
  }

  /** May this consumer be a Prometheus label value (its id or its group is allow-listed)? */
  labelled(id: string): boolean {
    if (this.labels.size === 0 || id === UNKNOWN_CONSUMER) return false;
    if (this.labels.has(id)) return true;
    const g = this.groupOf(id);
    return g !== null && this.labels.has(g);
  }
}

/** The meter's consumers when `metrics_consumers` is on (and metrics are), else null. */
export function createConsumers(config: ApimeterConfig, options: ConsumerOptions): Consumers | null {
  return config.metricsEnabled && config.metricsConsumers ? new Consumers(config, options) : null;
}

/**
 * For adapters, at registration: their `consumer` option becomes the meter's consumer function. A
 * non-function is refused with the option named; nothing happens when consumers are off.
 */
export function useConsumerFunction(
  meter: { readonly consumers: Consumers | null },
  fn: unknown,
  adapter: string,
): void {
  if (fn === undefined) return;
  if (typeof fn !== 'function') {
    throw new TypeError(`${adapter}: the \`consumer\` option must be a function (request) => consumer id`);
  }
  meter.consumers?.useFunction(fn as ConsumerFunction<never>);
}

/**
 * For adapters, right after recording a request on `ep`: identifies the consumer and counts it. A no-op
 * (one property read) when consumers are off. Never throws.
 */
export function noteConsumer<R>(
  meter: { readonly consumers: Consumers | null; readonly lastDurationMs?: number; readonly lastLatencyIndex?: number },
  ep: EndpointStats,
  fn: ConsumerFunction<R> | null | undefined,
  request: R,
  headers: RequestHeaders | undefined,
  status: number,
  durationMs: number,
  kind: ErrorKind,
): void {
  const consumers = meter.consumers;
  if (consumers === null) return;
  // The meter has just bucketed this duration (LATENCY_SKETCH): its index is reused when it is this one.
  const index = meter.lastDurationMs === durationMs ? meter.lastLatencyIndex! : NaN;
  consumers.observe(ep, fn, request, headers, status, durationMs, kind !== ErrorKind.None, index);
}

/**
 * Who calls an endpoint most: the top `n` consumers of `endpointKey` (`"GET /dags/{dag_id}"`) by
 * requests since start-up, largest first, each with Space-Saving's error bound (true requests lie in
 * `[requests - errorBound, requests]`). Empty when consumers are off or the endpoint has no requests.
 *
 * @example
 * topConsumers(meter, 'GET /v1/legacy', 5); // [{ id: 'acme', requests: 120, errorBound: 0 }, …]
 */
export function topConsumers(
  meter: {
    readonly consumers: Consumers | null;
    readonly registry: { find(m: string, r: string): EndpointStats | undefined };
  },
  endpointKey: string,
  n = 10,
): { id: string; requests: number; errorBound: number }[] {
  const consumers = meter.consumers;
  const space = endpointKey.indexOf(' ');
  if (consumers === null || space <= 0) return [];
  const ep = meter.registry.find(normalizeMethod(endpointKey.slice(0, space)), endpointKey.slice(space + 1));
  return ep === undefined ? [] : consumers.tracker.topOf(ep, n);
}
