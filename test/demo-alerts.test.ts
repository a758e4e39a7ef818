import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { startDemo } from '../demo/main.js';
import type { DemoOptions } from '../demo/main.js';
import { ManualClock } from '../src/index.js';

const QUIET: DemoOptions = {
  port: 0,
  db: ':memory:',
  traffic: false,
  reportEvery: 0,
  latencyScale: 0,
  faultRate: 0,
};

/** Polls until `fn` holds (the server's onResponse hook may run after the client read the answer). */
async function until(fn: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!fn()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('demo alerts', () => {
  test('the incident switch: 503s go pending → firing → resolved, printed once each, with history in SQLite', async () => {
    const clock = new ManualClock(Date.parse('2025-06-02T10:00:00Z'));
    const lines: string[] = [];
    const demo = await startDemo({
      ...QUIET,
      log: (l) => lines.push(l),
      meter: { iniPath: false, env: {}, clock, metricsApiCacheSeconds: 0, alertsEvaluationInterval: 3600 },
    });
    try {
      assert.notEqual(demo.persistence, null, 'history is on by default');
      assert.equal(demo.alerts.rules.slos.length, 2);
      const ep = () => demo.meter.registry.endpoints().find((e) => e.route === '/api/v2/version');
      let sent = 0;
      const burst = async (fault: 'error' | null) => {
        for (let i = 0; i < 30; i++) {
          const res = await fetch(`${demo.url}/api/v2/version`, { headers: fault ? { 'x-demo-incident': fault } : {} });
          assert.equal(res.status, fault === 'error' ? 503 : 200);
          await res.arrayBuffer();
          sent++;
        }
        await until(
          () => (ep()?.total.count ?? 0) + (ep()?.unfolded()?.count ?? 0) === sent,
          `${sent} requests recorded`,
        );
      };
      const state = () =>
        demo.alerts.instances().find((i) => i.rule === 'HighErrorRate' && i.endpoint === 'GET /api/v2/version')?.state;

      await burst('error');
      await demo.alerts.evaluateNow();
      assert.equal(state(), 'pending'); // demo/alerts.yaml: for 30s
      clock.advance(40_000);
      await burst('error');
      await demo.alerts.evaluateNow();
      assert.equal(state(), 'firing');
      clock.advance(70_000); // the 503s leave the 1-minute window
      await burst(null);
      await demo.alerts.evaluateNow();
      assert.equal(state(), 'resolved'); // keep_firing_for 30s ended: it last held 70 s ago
      await demo.alerts.evaluator.settle();
      const printed = lines.filter((l) => l.includes('HighErrorRate') && l.includes('/api/v2/version'));
      assert.equal(printed.length, 2, printed.join('\n'));
      assert.match(
        printed[0],
        /^alert FIRING \[page\] HighErrorRate: GET \/api\/v2\/version: 1 of requests answered 5xx/,
      );
      assert.match(printed[1], /^alert RESOLVED \[page\] HighErrorRate: /);
    } finally {
      await demo.close();
    }
  });

  test('the traffic generator sends the incident header during the incident', async () => {
    const demo = await startDemo({
      ...QUIET,
      traffic: true,
      rate: 200,
      log: () => {},
      incident: { afterSeconds: 0, seconds: 3600 },
      meter: { iniPath: false, env: {}, alertsEvaluationInterval: 3600 },
    });
    try {
      const fivexx = () => demo.meter.summary('1m').count * (1 - demo.meter.summary('1m').availability / 100);
      await until(() => fivexx() >= 20, '503s from the induced incident');
    } finally {
      await demo.close();
    }
  });
});
