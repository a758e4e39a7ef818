import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HealthJson } from '../src/api/index.js';
import { get, schemaValidator, serveApi } from './helpers/api.js';
import { buildFixture, NOW } from './helpers/api-fixture.js';

const P = '/api/v2/metrics';

function near(actual: number | null, expected: number, what: string): void {
  assert.ok(actual !== null && Math.abs(actual - expected) <= 1e-12, `${what}: ${actual} vs ${expected}`);
}

describe('metrics API: health', () => {
  test('healthy, degraded, unhealthy against the thresholds; 503 when configured; exporters; process', async () => {
    const { meter, clock } = buildFixture();
    clock.set(NOW + 3_600_000); // an hour later: the 1m window is empty
    const served = await serveApi({
      meter,
      health: {
        minRequests: 10,
        p95DegradedMs: 100,
        p95UnhealthyMs: 1000,
        errorRateDegraded: 0.05,
        errorRateUnhealthy: 0.2,
      },
    });
    const validate = schemaValidator((await get<Record<string, unknown>>(`${served.base}${P}/openapi.json`)).json);
    const health = async () => {
      const res = await get<HealthJson>(`${served.base}${P}/health`);
      validate('Health', res.json);
      return res;
    };
    try {
      const ep = meter.endpoint('GET', '/h')!;
      let res = await health();
      assert.equal(res.status, 200);
      assert.equal(res.json.status, 'healthy');
      assert.equal(res.json.checks.p95_ms.status, 'insufficient_data');
      assert.ok(res.json.process.rss_bytes > 0);
      assert.ok(res.json.process.heap_used_bytes > 0);
      assert.ok(res.json.process.uptime_seconds > 0);
      assert.ok(res.json.process.cpu_percent !== null && res.json.process.cpu_percent >= 0);

      for (let i = 0; i < 9; i++) meter.record(ep, 500, 5000, -1, -1, 0);
      assert.equal((await health()).json.status, 'healthy', '9 requests are below min_requests');

      for (let i = 0; i < 91; i++) meter.record(ep, 200, 50, -1, -1, 0);
      res = await health();
      assert.equal(res.json.traffic.count, 100);
      near(res.json.checks.error_rate_5xx.value, 0.09, 'error rate');
      assert.equal(res.json.checks.error_rate_5xx.status, 'degraded');
      assert.equal(res.json.checks.p95_ms.status, 'unhealthy', 'p95 is one of the 5000 ms requests');
      assert.equal(res.json.status, 'unhealthy');
      assert.equal(res.status, 200, 'not 503 unless configured');
      assert.match(res.json.reasons.join('\n'), /p95 latency 50\d\d\.\d ms is above 1000 ms over 1m/);
      assert.match(res.json.reasons.join('\n'), /5xx share 9\.00 % is above 5 % over 1m/);

      meter.addHealthSource('statsd', () => ({
        name: 'statsd',
        state: 'failing',
        circuit: 'open',
        lastError: 'ECONNREFUSED',
      }));
      res = await health();
      assert.deepEqual(res.json.components, [
        { name: 'statsd', state: 'failing', circuit: 'open', last_error: 'ECONNREFUSED' },
      ]);
      assert.ok(res.json.reasons.includes('statsd is failing: ECONNREFUSED'));

      clock.advance(120_000);
      for (let i = 0; i < 100; i++) meter.record(ep, 200, 20, -1, -1, 0);
      res = await health();
      assert.equal(res.json.status, 'degraded', 'fast and error-free, but an exporter is failing');
      assert.equal(res.json.checks.p95_ms.status, 'ok');
    } finally {
      await served.close();
    }
    const strict = await serveApi({
      meter,
      health: { failOnUnhealthy: true, p95DegradedMs: 1, p95UnhealthyMs: 2, minRequests: 1 },
    });
    try {
      const res = await get<HealthJson>(`${strict.base}${P}/health?window=5m`);
      assert.equal(res.status, 503);
      assert.equal(res.json.status, 'unhealthy');
    } finally {
      await strict.close();
    }
  });
});
