import type { ComponentHealth } from '../core/health.js';
import type { WindowName } from '../core/query.js';
import { tallyFigures } from '../core/query.js';
import { Tally } from '../core/tally.js';
import { collect } from './dataset.js';
import { jsonResponse } from './http.js';
import { choiceParam, Query } from './params.js';
import type { ParamDef } from './params.js';
import type { Route, RouteInput, RouteOutput } from './route.js';
import type { ComponentStateJson, HealthJson } from './schemas.js';
import { finite, rangeJson } from './stats.js';

const WINDOWS: readonly WindowName[] = ['1m', '5m', '15m', '1h'];

const PARAMS: readonly ParamDef[] = [
  {
    name: 'window',
    description: 'Window the request rate, p95 and error rate are judged over (default 1m).',
    schema: { type: 'string', enum: [...WINDOWS], default: '1m' },
  },
];

type Level = 'ok' | 'degraded' | 'unhealthy' | 'insufficient_data';
const RANK = { healthy: 0, degraded: 1, unhealthy: 2 } as const;

function level(value: number | null, degraded: number, unhealthy: number, enough: boolean): Level {
  if (!enough || value === null) return 'insufficient_data';
  return value > unhealthy ? 'unhealthy' : value > degraded ? 'degraded' : 'ok';
}

function component(c: ComponentHealth): ComponentStateJson {
  const out: ComponentStateJson = { name: c.name, state: c.state };
  if (c.circuit !== undefined) out.circuit = c.circuit;
  if (c.lastError !== undefined) out.last_error = c.lastError;
  if (c.lastErrorAt !== undefined) out.last_error_at = c.lastErrorAt;
  if (c.lastSuccessAt !== undefined) out.last_success_at = c.lastSuccessAt;
  if (c.counters !== undefined) out.counters = { ...c.counters };
  return out;
}

/**
 * `GET {prefix}/health`: the API's current request rate, p95 and 5xx share against the configured
 * thresholds, the state of each exporter and store, and the process' resources. A failing exporter makes
 * the status `degraded`, never `unhealthy`: metrics failing must not take the API out of a load balancer.
 */
export const health: Route = {
  params: PARAMS,
  async run(input: RouteInput): Promise<RouteOutput> {
    const { opts } = input;
    const t = opts.health;
    const query = Query.parse(input.search, PARAMS);
    const window = choiceParam(query, 'window', WINDOWS, '1m');
    const data = await collect(opts, { kind: 'window', window });
    const all = new Tally();
    for (const r of data.rows) all.merge(r.tally);
    const f = tallyFigures(all, data.seconds);
    const count = f.count;
    const enough = count >= t.minRequests && count > 0;
    const p95 = f.latencyMs.p95 === null ? null : finite(f.latencyMs.p95);
    const errorRate = count === 0 ? null : f.errorRate5xx;
    const checks: HealthJson['checks'] = {
      p95_ms: {
        value: p95,
        degraded_above: t.p95DegradedMs,
        unhealthy_above: t.p95UnhealthyMs,
        status: level(p95, t.p95DegradedMs, t.p95UnhealthyMs, enough),
      },
      error_rate_5xx: {
        value: errorRate,
        degraded_above: t.errorRateDegraded,
        unhealthy_above: t.errorRateUnhealthy,
        status: level(errorRate, t.errorRateDegraded, t.errorRateUnhealthy, enough),
      },
    };
    const findings: { level: 'degraded' | 'unhealthy'; reason: string }[] = [];
    const worsen = (to: 'degraded' | 'unhealthy', reason: string) => findings.push({ level: to, reason });
    const p95Level = checks.p95_ms.status;
    if (p95Level === 'degraded' || p95Level === 'unhealthy') {
      const limit = p95Level === 'degraded' ? t.p95DegradedMs : t.p95UnhealthyMs;
      worsen(p95Level, `p95 latency ${p95!.toFixed(1)} ms is above ${limit} ms over ${window}`);
    }
    const errLevel = checks.error_rate_5xx.status;
    if (errLevel === 'degraded' || errLevel === 'unhealthy') {
      const limit = errLevel === 'degraded' ? t.errorRateDegraded : t.errorRateUnhealthy;
      worsen(errLevel, `5xx share ${(100 * errorRate!).toFixed(2)} % is above ${100 * limit} % over ${window}`);
    }
    const components = opts.meter.componentHealth().map(component);
    for (const c of components) {
      if (c.state === 'failing' || c.state === 'degraded') {
        worsen('degraded', `${c.name} is ${c.state}${c.last_error === undefined ? '' : `: ${c.last_error}`}`);
      }
    }
    const status = findings.reduce<HealthJson['status']>((s, f) => (RANK[f.level] > RANK[s] ? f.level : s), 'healthy');
    const reasons = findings.map((f) => f.reason);
    const registry = opts.meter.registry;
    const body: HealthJson = {
      status,
      reasons,
      range: rangeJson(data),
      traffic: { count, rate_per_second: f.ratePerSecond, min_requests: t.minRequests },
      checks,
      components,
      process: input.monitor.read(),
      meter: {
        endpoints: registry.size,
        overflowed_endpoints: registry.overflowedEndpoints,
        overflowed_records: registry.overflowedRecords,
        latency_clamped: registry.latencyClamped,
      },
    };
    const code = status === 'unhealthy' && t.failOnUnhealthy ? 503 : 200;
    return { response: jsonResponse(code, body), cacheable: false };
  },
};
