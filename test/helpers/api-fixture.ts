import { createMeter, ErrorKind, ManualClock } from '../../src/index.js';
import type { EndpointStats, Meter } from '../../src/index.js';
import { exactQuantile, lognormal, rng } from './datasets.js';

/** One request the fixture recorded, kept so tests can compute every figure independently. */
export interface Sent {
  at: number;
  method: string;
  route: string;
  status: number;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
  kind: ErrorKind;
}

export const T0 = Date.parse('2025-03-01T12:00:00Z');
/** "Now" for the fixture: 50 min 30 s after start-up. */
export const NOW = T0 + 3_030_000;

/** Routes recorded, including hostile ones for escaping (quote, comma, newline, formula starts). */
export const ROUTES = {
  list: '/dags',
  one: '/dags/{dag_id}',
  weird: '=cmd|"calc",x\ny',
  plus: '+1+1',
  minus: '-2',
  at: '@SUM(A1)',
} as const;

/**
 * Traffic at known times (minutes 1, 40, 43, 47, the fine slot at 50:00 and now, 50:30) so every window
 * holds a known subset:
 *   1m = 50:00 + now; 5m = 47 + 50:00 + now; 15m adds 40 and 43; 1h and all hold everything;
 *   the 5m window's previous period (minutes 41–45) holds minute 43 only.
 */
export const GROUPS = [T0 + 60_000, T0 + 2_400_000, T0 + 2_580_000, T0 + 2_820_000, T0 + 3_000_000, NOW];

export interface Fixture {
  meter: Meter;
  clock: ManualClock;
  sent: Sent[];
}

export function buildFixture(): Fixture {
  const clock = new ManualClock(T0);
  const meter = createMeter({ iniPath: false, env: {}, clock });
  const sent: Sent[] = [];
  const r = rng(7);
  const eps = new Map<string, EndpointStats>();
  const record = (s: Omit<Sent, 'at'>) => {
    const key = `${s.method} ${s.route}`;
    let ep = eps.get(key);
    if (ep === undefined) eps.set(key, (ep = meter.endpoint(s.method, s.route)!));
    const cls = s.kind === ErrorKind.Exception ? 'DbError' : undefined;
    meter.record(
      ep,
      s.status,
      s.durationMs,
      s.requestBytes,
      s.responseBytes,
      s.kind,
      cls,
      cls && `lost row ${sent.length}`,
    );
    sent.push({ ...s, at: clock.now() });
  };
  GROUPS.forEach((at, g) => {
    clock.set(at);
    for (let i = 0; i < 40 + g * 7; i++) {
      const status = i % 10 === 0 ? 500 : i % 10 === 1 ? 404 : 200;
      record({
        method: 'GET',
        route: ROUTES.list,
        status,
        durationMs: lognormal(r, 20 + g * 5, 0.7),
        requestBytes: 0,
        responseBytes: 1000 + i * 13,
        kind: i % 20 === 0 ? ErrorKind.Exception : ErrorKind.None,
      });
    }
    for (let i = 0; i < 5 + g; i++) {
      record({
        method: 'POST',
        route: ROUTES.list,
        status: i === 0 ? 409 : 201,
        durationMs: 50 + i * 3 + g,
        requestBytes: 300 + i,
        responseBytes: 80,
        kind: ErrorKind.None,
      });
    }
    for (let i = 0; i < 10 + 2 * g; i++) {
      record({
        method: 'GET',
        route: ROUTES.one,
        status: i % 4 === 0 ? 404 : 200,
        durationMs: i === 0 ? 0 : 2 + i * 0.37,
        requestBytes: 0,
        responseBytes: 500,
        kind: ErrorKind.None,
      });
    }
    if (g === 5) {
      for (const route of [ROUTES.weird, ROUTES.plus, ROUTES.minus, ROUTES.at]) {
        record({
          method: 'DELETE',
          route,
          status: 204,
          durationMs: 3,
          requestBytes: 0,
          responseBytes: 0,
          kind: ErrorKind.None,
        });
      }
    }
  });
  clock.set(NOW);
  return { meter, clock, sent };
}

/** Exact statistics of a subset of the sent requests. */
export function exact(requests: readonly Sent[]) {
  const durations = requests.map((s) => s.durationMs).sort((a, b) => a - b);
  const codes: Record<string, number> = {};
  for (const s of requests) codes[String(s.status)] = (codes[String(s.status)] ?? 0) + 1;
  const q = (p: number) => (durations.length === 0 ? null : exactQuantile(durations, p));
  return {
    count: requests.length,
    codes,
    fiveXx: requests.filter((s) => s.status >= 500).length,
    durations,
    p50: q(0.5),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
    min: durations.length === 0 ? null : durations[0],
    max: durations.length === 0 ? null : durations[durations.length - 1],
    mean: durations.length === 0 ? null : durations.reduce((a, b) => a + b, 0) / durations.length,
  };
}

/** Requests at or after `from` (ms). */
export const since = (sent: readonly Sent[], from: number) => sent.filter((s) => s.at >= from);
