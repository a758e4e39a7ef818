/**
 * The alerts issue's "Done when", end to end over the demo started in process: an induced 5xx burst
 * (the `x-demo-incident` header the demo's traffic generator sends) fires HighErrorRate, which shows in
 * `GET /alerts`, in the log notifier's JSON line, in a real Prometheus Alertmanager and on a webhook (a
 * real HTTP server on loopback), then resolves in all four. `/slo` and `apimeter report slo` (over the
 * demo's SQLite store) give budgets that match the requests this test counted itself.
 *
 * The meter runs on a manual clock (set ten minutes behind the real one, so the times sent to
 * Alertmanager lie in its past) and the evaluator is stepped with evaluateNow: the test takes seconds.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { DEMO_RULES, startDemo } from '../demo/main.js';
import { ManualClock } from '../src/index.js';
import { AlertmanagerNotifier, LogNotifier, WebhookNotifier } from '../src/alerts/notifiers/index.js';
import type { AlertLogLine, WebhookBody } from '../src/alerts/notifiers/index.js';
import { run as reportCli } from '../src/cli/report.js';
import { ALERTMANAGER_SKIP, startAlertmanager } from './helpers/alertmanager.js';

const dir = mkdtempSync(join(tmpdir(), 'apimeter-done-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const RULE = 'HighErrorRate';
const ENDPOINT = 'GET /api/v2/version';

async function until(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A webhook receiver on loopback: every JSON body POSTed to it. */
async function webhookServer() {
  const bodies: WebhookBody[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(text) as WebhookBody);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    events: () => bodies.flatMap((b) => b.events),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('Done when: the demo, an induced 5xx burst, four places', { skip: ALERTMANAGER_SKIP }, () => {
  test('HighErrorRate fires in /alerts, the log, Alertmanager and the webhook, then resolves in all four; SLO budgets match', async () => {
    const alertmanager = await startAlertmanager();
    const hook = await webhookServer();
    const logged: AlertLogLine[] = [];
    const stream = new PassThrough();
    let pendingText = '';
    stream.on('data', (c: Buffer) => {
      pendingText += c.toString();
      const lines = pendingText.split('\n');
      pendingText = lines.pop()!;
      for (const l of lines) logged.push(JSON.parse(l) as AlertLogLine);
    });
    const clock = new ManualClock(Date.now() - 10 * 60_000);
    const demo = await startDemo({
      port: 0,
      db: join(dir, 'demo.db'),
      traffic: false,
      reportEvery: 0,
      latencyScale: 0,
      faultRate: 0,
      log: () => {},
      notifiers: [
        new LogNotifier({ stream }),
        new WebhookNotifier({ url: hook.url, timeoutMs: 2000 }),
        new AlertmanagerNotifier({ url: alertmanager.url, timeoutMs: 2000 }),
      ],
      meter: { iniPath: false, env: {}, clock, metricsApiCacheSeconds: 0, alertsEvaluationInterval: 3600 },
    });
    const auth = { authorization: `Bearer ${demo.token}` };
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(demo.metricsUrl + path, { headers: auth });
      assert.equal(res.status, 200, path);
      return (await res.json()) as T;
    };
    type Instance = { rule: string; endpoint: string; state: string };
    const inApi = async () =>
      (await api<{ alerts: Instance[] }>('/alerts')).alerts.find((a) => a.rule === RULE && a.endpoint === ENDPOINT)
        ?.state;
    const inAlertmanager = async () =>
      (await alertmanager.alerts()).filter((a) => a.labels.alertname === RULE && a.labels.endpoint === ENDPOINT);
    let sent = 0;
    let sent503 = 0;
    const ep = () => demo.meter.registry.endpoints().find((e) => e.route === '/api/v2/version');
    const burst = async (n: number, fault: boolean) => {
      for (let i = 0; i < n; i++) {
        const res = await fetch(`${demo.url}/api/v2/version`, { headers: fault ? { 'x-demo-incident': 'error' } : {} });
        assert.equal(res.status, fault ? 503 : 200);
        await res.arrayBuffer();
        sent++;
        if (fault) sent503++;
      }
      await until(() => (ep()?.total.count ?? 0) + (ep()?.unfolded()?.count ?? 0) === sent, `${sent} recorded`);
    };
    try {
      assert.equal(demo.alerts.rules.rules.find((r) => r.name === RULE)?.windowMs, 60_000, 'demo/alerts.yaml');
      // The burst: pending first (for: 30s), firing 40 s later.
      await burst(30, true);
      await demo.alerts.evaluateNow();
      assert.equal(await inApi(), 'pending');
      clock.advance(40_000);
      await burst(30, true);
      await demo.alerts.evaluateNow();
      await demo.alerts.evaluator.settle();
      assert.equal(await inApi(), 'firing');
      await until(() => logged.some((l) => l.rule === RULE && l.state === 'firing'), 'the firing log line');
      const line = logged.find((l) => l.rule === RULE && l.state === 'firing')!;
      assert.equal(line.endpoint, ENDPOINT);
      assert.equal(line.msg, 'alert firing');
      assert.equal(line.value, 1, 'every request of the window answered 503');
      await until(
        () => hook.events().some((e) => e.rule === RULE && e.endpoint === ENDPOINT && e.state === 'firing'),
        'the firing webhook event',
      );
      const [firing] = await alertmanager
        .waitForAlerts(
          (list) => list.some((a) => a.labels.alertname === RULE && a.labels.endpoint === ENDPOINT),
          'the firing alert in Alertmanager',
        )
        .then(() => inAlertmanager());
      assert.equal(firing.status.state, 'active');
      assert.equal(firing.labels.severity, 'page');
      assert.match(firing.annotations.summary, /^GET \/api\/v2\/version: 1 of requests answered 5xx/);

      // The burst ends: once the 503s have left the 1-minute window (and keep_firing_for 30s), resolved.
      clock.advance(70_000);
      await burst(30, false);
      await demo.alerts.evaluateNow();
      await demo.alerts.evaluator.settle();
      assert.equal(await inApi(), 'resolved');
      await until(() => logged.some((l) => l.rule === RULE && l.state === 'resolved'), 'the resolved log line');
      assert.equal(logged.find((l) => l.rule === RULE && l.state === 'resolved')!.msg, 'alert resolved');
      await until(
        () => hook.events().some((e) => e.rule === RULE && e.endpoint === ENDPOINT && e.state === 'resolved'),
        'the resolved webhook event',
      );
      const resolvedHook = hook.events().find((e) => e.rule === RULE && e.state === 'resolved')!;
      assert.equal(new Date(resolvedHook.endsAt!).getTime(), clock.now());
      await alertmanager.waitForAlerts(
        (list) => !list.some((a) => a.labels.alertname === RULE && a.labels.endpoint === ENDPOINT),
        'the alert to leave the active list of Alertmanager',
      );

      // /slo: the availability SLO's budget from the requests this test sent (30-day period, 99.5 %).
      type Slo = { name: string; total: number; bad: number; budget: { total: number; remaining_share: number } };
      const slos = (await api<{ slos: Slo[] }>('/slo')).slos;
      const avail = slos.find((s) => s.name === 'api-availability')!;
      assert.equal(avail.total, sent);
      assert.equal(avail.bad, sent503);
      assert.ok(Math.abs(avail.budget.total - sent * 0.005) < 1e-9);
      assert.ok(Math.abs(avail.budget.remaining_share - (1 - sent503 / (sent * 0.005))) < 1e-9);
    } finally {
      const now = clock.now();
      await demo.close(); // the final snapshot: everything recorded is in the store now
      await hook.close();
      await alertmanager.stop();
      // apimeter report slo over the demo's store, at the same time: the same count.
      const ini = join(dir, 'report.ini');
      writeFileSync(
        ini,
        `[metrics]\napi_metrics_store_url = sqlite:${join(dir, 'apimeter.db')}\n[alerts]\nrules_file = ${DEMO_RULES}\n`,
      );
      let stdout = '';
      let stderr = '';
      const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } };
      assert.equal(
        await reportCli(['slo', '--period', '30d', '--format', 'json', '--ini', ini], now + 60_000, io),
        0,
        stderr,
      );
      const report = JSON.parse(stdout) as {
        slos: { name: string; total: number; bad: number; budget: { remaining_share: number } }[];
      };
      const avail = report.slos.find((s) => s.name === 'api-availability')!;
      assert.equal(avail.total, sent);
      assert.equal(avail.bad, sent503);
      assert.ok(Math.abs(avail.budget.remaining_share - (1 - sent503 / (sent * 0.005))) < 1e-9);
    }
  });
});
