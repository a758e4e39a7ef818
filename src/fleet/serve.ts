import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startAlerts } from '../alerts/start.js';
import type { Alerts } from '../alerts/start.js';
import { createMetricsApi } from '../api/api.js';
import type { MetricsApi } from '../api/api.js';
import { CHALLENGE, createAccessCheck } from '../api/auth.js';
import { ApiProblem, badParameter, jsonResponse, problemResponse } from '../api/http.js';
import type { ApiRequest, ApiResponse } from '../api/http.js';
import { writeResponse } from '../api/node.js';
import type { HistorySource } from '../core/history.js';
import type { MeterOptions } from '../core/meter.js';
import { meterConfig } from '../core/meter-options.js';
import { windowTally } from '../core/query.js';
import type { WindowName } from '../core/query.js';
import { StoreHistory } from '../store/history.js';
import { openPostgresStore } from '../store/postgres.js';
import type { PostgresStore } from '../store/postgres.js';
import { bucketSecondsFor } from '../store/snapshot-task.js';
import { completeness, instanceState } from './completeness.js';
import type { FleetCompletenessJson } from './completeness.js';
import { openLiveTier } from './live-tier.js';
import type { LiveTier } from './live-tier.js';
import { SealedHistory } from './history-cache.js';
import { FleetMirror } from './mirror.js';

export interface ServeOptions {
  /** `postgres://…`; default `[metrics] api_metrics_store_url`. */
  url?: string;
  /** PostgreSQL schema of the store's tables. */
  schema?: string;
  /** Configuration of the served API (token, prefix, cache, health thresholds, alerts): INI and env. */
  meter?: MeterOptions;
  /** The instances' live interval, seconds (the mirror's fine slot); default `api_metrics_live_interval`, else 10. */
  intervalSeconds?: number;
  /** Default `[metrics] api_metrics_fleet_gone_seconds`. */
  goneSeconds?: number;
  /** How often the live tier is read, ms (default half the interval). */
  pollMs?: number;
  /** Durable snapshot bucket length, seconds (default from `api_metrics_snapshot_interval`, as the instances write). */
  snapshotIntervalSeconds?: number;
  /** Bearer token of the API; default `[api] metrics_api_token`. */
  token?: string;
  /**
   * Resolve only once the live tier's hour is read (default false: serve answers at once, its answers
   * saying `loading` until then).
   */
  waitForLoad?: boolean;
  /** Evaluate the alert rules and SLOs (`[alerts]`) over the fleet (default: `[alerts] enabled`). */
  alerts?: boolean;
  /**
   * Merge the fleet's sealed 30-day history ahead, once loaded and every 5 minutes (default true), so the
   * first long answer does not pay for it.
   */
  warmHistory?: boolean;
  /** Listen here (default 127.0.0.1, port 9464; 0 = any free port). */
  host?: string;
  port?: number;
  onError?: (error: unknown) => void;
}

export interface FleetServe {
  readonly url: string;
  readonly server: Server;
  readonly mirror: FleetMirror;
  readonly api: MetricsApi;
  /** The fleet's durable history, sealed periods cached in memory. */
  readonly history: SealedHistory;
  /** Resolves when the running warm-up (if any) is done. */
  warmed(): Promise<void>;
  readonly alerts: Alerts | null;
  /** Answers one request as the server does (tests, embedding). */
  handle(request: ApiRequest): Promise<ApiResponse>;
  close(): Promise<void>;
}

const LIVE: readonly WindowName[] = ['1m', '5m', '15m', '1h'];

/** The history of the fleet (or one instance), read before the split the mirror computes. */
function splitHistory(inner: HistorySource, until: () => number): HistorySource {
  return {
    name: inner.name,
    stepMs: inner.stepMs,
    persistedUntil: until,
    endpoints: (q) => inner.endpoints(q),
    series: (q) => inner.series(q),
    ...(inner.consumers !== undefined && { consumers: (q) => inner.consumers!(q) }),
  };
}

/**
 * Serve has no consumer table in memory (the live tier carries no consumers): `/consumers` since start-up
 * (`window=all`, the default) would be an empty list, so such a request is a 400 pointing at the stored
 * windows.
 */
function asksMemoryConsumers(path: string, prefix: string, query: URLSearchParams): boolean {
  if (path !== `${prefix}/consumers` && !path.startsWith(`${prefix}/consumers/`)) return false;
  const window = query.get('window');
  return !query.has('start') && !query.has('end') && (window === null || window === 'all');
}

const CONSUMER_STORED_WINDOWS = ['6h', '24h', '7d', '30d'];
const memoryConsumers = () =>
  badParameter(
    'window',
    "apimeter serve keeps no consumer figures in memory: it reads the instances' stored intervals " +
      '(metrics_consumers with api_metrics_persistence on the instances); ask window=6h, 24h, 7d, 30d or start/end',
    CONSUMER_STORED_WINDOWS,
  );

/** The answer's range (`"range":{"from":…,"to":…}`), found without parsing the whole body. */
function rangeOf(body: string): { from: number; to: number } | null {
  const m = /"range":(\{[^{}]*\})/.exec(body);
  if (m === null) return null;
  const range = JSON.parse(m[1]) as { from?: string; to?: string };
  if (range.from === undefined || range.to === undefined) return null;
  const from = Date.parse(range.from);
  const to = Date.parse(range.to);
  return Number.isFinite(from) && Number.isFinite(to) ? { from, to } : null;
}

/**
 * `apimeter serve`: the metrics API, its web page, alert and SLO evaluation and the Prometheus exposition
 * for a whole fleet, from the shared PostgreSQL store. The last hour comes from the instances' live
 * tier (a {@link FleetMirror}), older data from the durable snapshots and rollups; figures merge every
 * instance's sketches. `instance=ID` on any route scopes the answer to one instance; `{prefix}/instances`
 * lists them. Every answer says which instances contributed and how complete it is (`fleet` in JSON,
 * `x-apimeter-fleet-*` headers).
 *
 * @example
 * const serve = await startServe({ url: 'postgres://127.0.0.1/metrics', port: 9464 });
 */
export async function startServe(options: ServeOptions = {}): Promise<FleetServe> {
  // As createMeter reads it: INI, environment, then the option overrides of `meter`.
  const config = meterConfig(options.meter ?? {});
  const meterOptions: MeterOptions = { ...options.meter, config };
  const url = options.url ?? config.apiMetricsStoreUrl;
  const onError = options.onError ?? (() => {});
  const intervalSeconds = options.intervalSeconds ?? (config.apiMetricsLiveInterval || 10);
  const goneMs = (options.goneSeconds ?? config.apiMetricsFleetGoneSeconds) * 1000;
  let tier: LiveTier | null = null;
  let store: PostgresStore | null = null;
  const mirror = await (async () => {
    try {
      tier = await openLiveTier({ url, schema: options.schema, max: 2, applicationName: 'apimeter serve' });
      store = await openPostgresStore({ url, schema: options.schema, applicationName: 'apimeter serve' });
      const m = new FleetMirror({
        tier,
        fineMs: intervalSeconds * 1000,
        goneMs,
        pollMs: options.pollMs,
        meter: meterOptions,
        onError,
      });
      await m.start();
      if (options.waitForLoad === true) await m.loaded;
      return m;
    } catch (error) {
      await tier?.close().catch(() => undefined);
      await store?.close().catch(() => undefined);
      throw error;
    }
  })();
  const durable = store!;
  const stepMs = bucketSecondsFor(options.snapshotIntervalSeconds ?? config.apiMetricsSnapshotInterval) * 1000;
  // Sealed rollup buckets' fleet merges kept in memory (docs/scaling.md): a 30-day answer merges from the
  // store only what is not sealed yet. Sealed: persisted by every expected instance.
  const sealedUntil = () => {
    let until = Infinity;
    const now = mirror.now();
    for (const r of mirror.records()) {
      const state = instanceState(r, now, goneMs);
      if (state === 'live' || state === 'lagging')
        until = Math.min(until, r.durableUntil > 0 ? r.durableUntil : r.startedAt);
    }
    return until === Infinity ? 0 : until;
  };
  const sealed = new SealedHistory(durable, { stepMs, sealedUntil });
  const fleetHistory = splitHistory(sealed, () => mirror.durableSplit());
  const apiOptions = { token: options.token, onError };
  const api = createMetricsApi({ ...apiOptions, meter: mirror.fleet, history: fleetHistory });
  const access = createAccessCheck(api.options);
  const perInstance = new Map<string, MetricsApi>();
  const alerts =
    (options.alerts ?? config.alertsEnabled) ? startAlerts(mirror.fleet, { history: fleetHistory, onError }) : null;
  const pruneTimer = setInterval(() => void mirror.prune().catch(onError), 60_000);
  pruneTimer.unref();
  // The 30-day window's sealed blocks merged ahead of the first request, then as hours seal.
  let warming: Promise<void> | null = null;
  const warm = () => {
    warming ??= sealed
      .warm(mirror.now() - 30 * 86_400_000, mirror.durableSplit(), 30 * 86_400_000)
      .catch(onError)
      .finally(() => (warming = null));
    return warming;
  };
  if (options.warmHistory !== false) void mirror.loaded.then(warm);
  const warmTimer = setInterval(() => void (options.warmHistory !== false && warm()), 5 * 60_000);
  warmTimer.unref();

  function instanceApi(id: string): MetricsApi {
    let found = perInstance.get(id);
    if (found !== undefined) return found;
    const meter = mirror.meterOf(id);
    if (meter === undefined) {
      const known = mirror.records().map((r) => r.instance);
      throw new ApiProblem(404, `no instance ${JSON.stringify(id.slice(0, 200))}; instances: ${known.join(', ')}`);
    }
    const history = splitHistory(new StoreHistory(durable, { stepMs, instance: id }), () => {
      const r = mirror.records().find((x) => x.instance === id);
      const until = r === undefined ? 0 : r.durableUntil > 0 ? r.durableUntil : r.startedAt;
      return Math.floor(Math.max(until, mirror.now() - 55 * 60_000) / 60_000) * 60_000;
    });
    found = createMetricsApi({ ...apiOptions, meter, history });
    perInstance.set(id, found);
    return found;
  }

  function fleetInfo(range: { from: number; to: number } | null, only?: string): FleetCompletenessJson {
    const records = mirror.records().filter((r) => only === undefined || r.instance === only);
    return completeness(records, mirror.now(), goneMs, range, {
      at: mirror.lastReadAt,
      error: mirror.lastError,
      loading: mirror.loading,
    });
  }

  async function checkAccess(request: ApiRequest): Promise<void> {
    const decision = await access(request);
    if (decision === 'ok') return;
    if (decision === 401 || decision === 'unconfigured') {
      throw new ApiProblem(
        401,
        'credentials required: send "Authorization: Bearer <token>" ([api] metrics_api_token)',
        {
          headers: CHALLENGE,
        },
      );
    }
    throw new ApiProblem(403, 'the credentials given are not valid for the metrics API');
  }

  function instancesAnswer(query: URLSearchParams): ApiResponse {
    const window = (query.get('window') ?? '5m') as WindowName;
    if (!LIVE.includes(window)) {
      throw badParameter('window', `expected one of ${LIVE.join(', ')} (the instances' live tier holds an hour)`, LIVE);
    }
    const now = mirror.now();
    const clockNow = Date.now();
    const requests = new Map<string, number>();
    let total = 0;
    for (const r of mirror.records()) {
      const meter = mirror.meterOf(r.instance)!;
      let n = 0;
      for (const ep of meter.registry.endpoints()) n += windowTally(ep, window, clockNow, meter.startedAt)[0].count;
      requests.set(r.instance, n);
      total += n;
    }
    const iso = (ms: number) => new Date(ms).toISOString();
    const instances = mirror.records().map((r) => ({
      instance: r.instance,
      state: instanceState(r, now, goneMs),
      version: r.version,
      host: r.host,
      pid: r.pid,
      role: r.role,
      started_at: iso(r.startedAt),
      last_write: iso(r.lastWriteAt),
      lag_seconds: Math.max(0, now - r.lastWriteAt) / 1000,
      complete_until: iso(r.completeUntil),
      durable_until: r.durableUntil > 0 ? iso(r.durableUntil) : null,
      interval_seconds: r.intervalMs / 1000,
      dropped_rows: r.dropped,
      requests: requests.get(r.instance) ?? 0,
      share: total === 0 ? null : (requests.get(r.instance) ?? 0) / total,
    }));
    return jsonResponse(
      200,
      { window, requests: total, instances, fleet: fleetInfo(null) },
      { 'cache-control': 'no-store' },
    );
  }

  function withFleet(response: ApiResponse, only?: string): ApiResponse {
    const type = response.headers['content-type'] ?? '';
    let info: FleetCompletenessJson;
    let body = response.body;
    if (/json/.test(type) && typeof body === 'string' && body.startsWith('{') && response.status === 200) {
      // Spliced in, not parsed and rewritten: a 1,000-endpoint answer is a megabyte of JSON.
      info = fleetInfo(rangeOf(body), only);
      body = `${body.slice(0, body.lastIndexOf('}'))},"fleet":${JSON.stringify(info)}}`;
    } else info = fleetInfo(null, only);
    return {
      ...response,
      headers: {
        ...response.headers,
        'x-apimeter-fleet-instances': info.contributed.join(',').slice(0, 4000),
        'x-apimeter-fleet-complete-until': info.complete_until ?? '',
        'x-apimeter-fleet-complete': String(info.complete),
        'x-apimeter-fleet-lagging': info.lagging
          .map((l) => l.instance)
          .join(',')
          .slice(0, 4000),
      },
      body,
    };
  }

  async function handle(request: ApiRequest): Promise<ApiResponse> {
    try {
      const q = request.url.indexOf('?');
      const path = q === -1 ? request.url : request.url.slice(0, q);
      const query = new URLSearchParams(q === -1 ? '' : request.url.slice(q + 1));
      if (path === `${api.options.prefix}/instances` || path === `${api.options.prefix}/instances/`) {
        await checkAccess(request);
        return instancesAnswer(query);
      }
      if (asksMemoryConsumers(path, api.options.prefix, query)) {
        await checkAccess(request);
        throw memoryConsumers();
      }
      const only = query.get('instance') ?? undefined;
      if (only === undefined) return withFleet(await api.handle(request));
      query.delete('instance');
      // Access before saying which instances exist.
      await checkAccess(request);
      const rest = query.toString();
      const target = instanceApi(only);
      return withFleet(await target.handle({ ...request, url: rest === '' ? path : `${path}?${rest}` }), only);
    } catch (error) {
      if (error instanceof ApiProblem) return problemResponse(error);
      onError(error);
      return problemResponse(new ApiProblem(500, 'internal error in apimeter serve; see the server log'));
    }
  }

  const server = createServer((req, res) => {
    void handle({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }).then((answer) => {
      try {
        writeResponse(res, request(req.method, answer));
      } catch (error) {
        onError(error);
      }
    });
  });
  const request = (method: string | undefined, answer: ApiResponse) =>
    method === 'HEAD' ? { ...answer, body: '' } : answer;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9464, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${address.port}`,
    server,
    mirror,
    api,
    history: sealed,
    warmed: () => warming ?? Promise.resolve(),
    alerts,
    handle,
    close() {
      closing ??= (async () => {
        clearInterval(pruneTimer);
        clearInterval(warmTimer);
        await warming;
        mirror.stop();
        await alerts?.close();
        api.close();
        for (const a of perInstance.values()) a.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await tier!.close().catch(() => undefined);
        await durable.close().catch(() => undefined);
      })();
      return closing;
    },
  };
}
