/**
 * Sinks that go away and come back: the Etsy StatsD daemon (a real child process) on a port that is
 * closed, then open; an OTLP receiver that refuses connections, then accepts. Every count the test
 * recorded arrives exactly once; a stale refusal does not reopen a recovered circuit; close() sends the
 * last counts even while the circuit is open.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { createMeter } from '../../src/core/meter.js';
import type { Meter } from '../../src/core/meter.js';
import { startOtelExporter } from '../../src/exporters/otel.js';
import { createStatsdExporter } from '../../src/exporters/statsd.js';
import {
  eventually,
  freeTcpPort,
  freeUdpPort,
  otlpAttributes,
  startEtsyStatsd,
  startOtlpReceiver,
} from '../helpers/exporters.js';
import type { EtsyStatsd, OtlpReceiver } from '../helpers/exporters.js';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

const quiet = () => {};

/** Records `n` requests on two routes; returns n. */
function traffic(meter: Meter, n: number): number {
  for (let i = 0; i < n; i++) {
    meter.recordRequest({
      method: 'GET',
      route: i % 2 === 0 ? '/users/{id}' : '/items',
      status: 200,
      durationMs: 1 + (i % 7),
    });
  }
  return n;
}

function statsdCount(daemon: EtsyStatsd): number {
  let n = 0;
  for (const [name, v] of daemon.totals().counters) if (name.startsWith('apimeter.api.request.count.')) n += v;
  return n;
}

function statsdTimerCount(daemon: EtsyStatsd): number {
  let n = 0;
  for (const [name, v] of daemon.totals().timerCounts) if (name.startsWith('apimeter.api.request.duration.')) n += v;
  return n;
}

test('StatsD port closed, then open: the daemon gets every count and every timer value', async () => {
  const port = await freeUdpPort();
  const clock = new ManualClock();
  const meter = createMeter({ iniPath: false, env: {} });
  const statsd = createStatsdExporter(meter, {
    host: '127.0.0.1',
    port,
    flushIntervalMs: 0,
    circuit: { failureThreshold: 3, cooldownMs: 1000, now: () => clock.now() },
    onStateChange: quiet,
  });
  cleanup.push(() => statsd.close());
  let sent = 0;
  for (let i = 0; i < 3; i++) {
    sent += traffic(meter, 300);
    const report = await statsd.flush();
    assert.match(String(report.error), /ECONNREFUSED/, 'nothing listens: the flush is refused');
  }
  assert.equal(statsd.breaker.state, 'open');
  sent += traffic(meter, 200);
  assert.equal((await statsd.flush()).skipped, true);
  assert.ok(statsd.health().counters!.retryQueuedBytes > 0, 'undelivered datagrams are kept');

  const daemon = await startEtsyStatsd(100, port);
  cleanup.push(() => daemon.stop());
  sent += traffic(meter, 100);
  clock.advance(1000);
  const probe = await statsd.flush();
  assert.equal(probe.error, null);
  assert.equal(statsd.breaker.state, 'closed');
  await eventually(() => statsdCount(daemon) >= sent, `${sent} counts at the daemon`);
  await eventually(() => statsdTimerCount(daemon) >= sent, `${sent} timer values at the daemon`);
  assert.equal(statsdCount(daemon), sent);
  assert.equal(statsdTimerCount(daemon), sent);
  assert.equal(statsd.health().counters!.retryQueuedBytes, 0);
});

test('StatsD on its own flush timer, the daemon starting mid-traffic: every count arrives, once', async () => {
  const port = await freeUdpPort();
  const meter = createMeter({ iniPath: false, env: {} });
  const statsd = createStatsdExporter(meter, {
    host: '127.0.0.1',
    port,
    flushIntervalMs: 100,
    circuit: { failureThreshold: 3, cooldownMs: 100, maxCooldownMs: 400 },
    onStateChange: quiet,
  });
  let sent = 0;
  const load = setInterval(() => {
    sent += traffic(meter, 10);
  }, 5);
  try {
    await eventually(() => statsd.health().counters!.failedFlushes >= 5, 'refused flushes');
    const daemon = await startEtsyStatsd(100, port);
    cleanup.push(() => daemon.stop());
    await eventually(() => statsdCount(daemon) > 0, 'counts at the daemon');
    await eventually(() => statsd.health().counters!.flushes > 0 && statsd.breaker.state === 'closed', 'recovery');
    clearInterval(load);
    await statsd.close();
    await eventually(() => statsdCount(daemon) >= sent, `${sent} counts at the daemon`);
    assert.equal(statsdCount(daemon), sent);
    assert.equal(statsdTimerCount(daemon), sent);
  } finally {
    clearInterval(load);
    await statsd.close();
  }
});

test('StatsD recovery: a stale refusal does not reopen the circuit; close() flushes with the circuit open', async () => {
  const port = await freeUdpPort();
  const clock = new ManualClock();
  const meter = createMeter({ iniPath: false, env: {} });
  const statsd = createStatsdExporter(meter, {
    host: '127.0.0.1',
    port,
    flushIntervalMs: 0,
    refusalWaitMs: 0, // the refusal arrives after the flush has been judged: it must not count later
    circuit: { failureThreshold: 1, cooldownMs: 10_000, now: () => clock.now() },
    onStateChange: quiet,
  });
  let sent = traffic(meter, 50);
  await statsd.flush(); // refused (ICMP) after the flush: the error lands between flushes
  await eventually(async () => {
    sent += traffic(meter, 10);
    return statsd.breaker.state === 'open' || (await statsd.flush()).error !== null;
  }, 'the refusal to open the circuit');
  assert.equal(statsd.breaker.state, 'open');

  let daemon = await startEtsyStatsd(100, port);
  sent += traffic(meter, 40);
  clock.advance(10_000);
  assert.equal((await statsd.flush()).error, null, 'the probe succeeds');
  for (let i = 0; i < 5; i++) {
    sent += traffic(meter, 10);
    const report = await statsd.flush();
    assert.equal(report.error, null, `flush ${i} after the recovery: ${String(report.error)}`);
  }
  assert.equal(statsd.breaker.state, 'closed');
  assert.equal(statsd.health().state, 'ok');
  await eventually(() => statsdCount(daemon) >= sent, `${sent} counts at the daemon`);
  assert.equal(statsdCount(daemon), sent);
  const before = statsdCount(daemon);
  await daemon.stop();

  // The sink goes away again: the circuit opens; the sink comes back while the circuit is still open.
  let later = traffic(meter, 30);
  await eventually(async () => {
    later += traffic(meter, 5);
    await statsd.flush();
    return statsd.breaker.state === 'open';
  }, 'the circuit to open again');
  daemon = await startEtsyStatsd(100, port);
  cleanup.push(() => daemon.stop());
  later += traffic(meter, 70);
  assert.equal(statsd.breaker.state, 'open');
  await statsd.close(); // the last flush goes out although the circuit is open
  await eventually(() => statsdCount(daemon) >= later, `${later} counts after close()`);
  assert.equal(statsdCount(daemon), later, `before: ${before}`);
});

test('OTLP receiver refusing, then accepting, delta temporality: the sums equal what was recorded', async () => {
  const port = await freeTcpPort();
  const clock = new ManualClock();
  const meter = createMeter({ iniPath: false, env: {} });
  const otel = await startOtelExporter(meter, {
    url: `http://127.0.0.1:${port}/v1/metrics`,
    intervalMs: 60_000,
    timeoutMs: 2000,
    temporality: 'delta',
    circuit: { failureThreshold: 2, cooldownMs: 1000, now: () => clock.now() },
    onStateChange: quiet,
  });
  cleanup.push(() => otel.close());
  let sent = 0;
  for (let i = 0; i < 4; i++) {
    sent += traffic(meter, 250);
    await otel.forceFlush(); // refused; from the third on the circuit is open
  }
  assert.equal(otel.breaker.state, 'open');
  assert.ok(otel.health().counters!.pointsPending > 0, 'undelivered delta points are kept');
  const receiver: OtlpReceiver = await startOtlpReceiver('ok', port);
  cleanup.push(() => receiver.close());
  sent += traffic(meter, 100);
  clock.advance(1000);
  await otel.forceFlush();
  sent += traffic(meter, 50);
  await otel.forceFlush();
  assert.equal(otel.breaker.state, 'closed');
  let total = 0;
  let deltaSeen = false;
  for (const body of receiver.bodies) {
    for (const rm of body.resourceMetrics) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          if (m.name !== 'apimeter.http.server.requests' || m.sum === undefined) continue;
          deltaSeen ||= m.sum.aggregationTemporality === 1;
          for (const p of m.sum.dataPoints) {
            assert.ok(typeof otlpAttributes(p.attributes)['http.route'] === 'string');
            total += Number(p.asInt ?? p.asDouble ?? 0);
          }
        }
      }
    }
  }
  assert.ok(deltaSeen, 'delta temporality');
  assert.equal(total, sent);
  assert.equal(otel.health().counters!.pointsPending, 0);
});
