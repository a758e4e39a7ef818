/**
 * Detailed mode (`metrics_detailed`) over StatsD and DogStatsD: `api.auth.count` by auth_type and
 * success, `api.ratelimit.hits`, `api.db.query.count` and `api.db.query.duration`, sent as differences
 * between flushes — in memory, to a strict DogStatsD receiver, and to the real Etsy daemon.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Meter } from '../src/core/meter.js';
import type { MeterOptions } from '../src/core/meter.js';
import { MemoryTransport } from '../src/exporters/memory.js';
import { createStatsdExporter } from '../src/exporters/statsd.js';
import type { StatsdExporterOptions } from '../src/exporters/statsd.js';
import { detailTraffic, plainTraffic, send } from './helpers/detail-traffic.js';
import { eventually, startDogStatsdReceiver, startEtsyStatsd } from './helpers/exporters.js';

const DETAIL = /\.(auth|ratelimit|db)\./;

function inMemory(meter: Meter, overrides: Partial<StatsdExporterOptions> = {}) {
  const transport = new MemoryTransport();
  const statsd = createStatsdExporter(meter, {
    transport,
    flushIntervalMs: 0,
    onStateChange: () => {},
    ...overrides,
  });
  return { transport, statsd };
}

test('plain StatsD: detailed counters folded into names, then only what changed', async () => {
  const { meter, get } = detailTraffic();
  const { transport, statsd } = inMemory(meter);
  await statsd.flush();
  assert.deepEqual(
    transport.lines().filter((l) => DETAIL.test(l)),
    [
      'apimeter.api.auth.count.orders_id.GET.bearer.false:2|c',
      'apimeter.api.auth.count.orders_id.GET.bearer.true:6|c',
      'apimeter.api.auth.count.orders_id.GET.api_key.true:1|c',
      'apimeter.api.ratelimit.hits.orders_id.GET:1|c',
      'apimeter.api.db.query.count.orders_id.GET:9|c',
      'apimeter.api.db.query.duration.orders_id.GET:24|c',
      'apimeter.api.auth.count.orders_id.POST.basic.true:3|c',
      'apimeter.api.auth.count.orders_id.POST.session.false:1|c',
      'apimeter.api.ratelimit.hits.orders_id.POST:1|c',
      'apimeter.api.db.query.count.orders_id.POST:3|c',
      'apimeter.api.db.query.duration.orders_id.POST:3|c',
    ],
  );
  transport.clear();
  send(meter, get, { status: 401, ms: 2, headers: { authorization: 'Bearer x' }, queries: [1.5, 0.25] });
  await statsd.flush();
  assert.deepEqual(
    transport.lines().filter((l) => DETAIL.test(l)),
    [
      'apimeter.api.auth.count.orders_id.GET.bearer.false:1|c',
      'apimeter.api.db.query.count.orders_id.GET:2|c',
      'apimeter.api.db.query.duration.orders_id.GET:1.75|c',
    ],
  );
  transport.clear();
  await statsd.flush();
  assert.deepEqual(
    transport.lines().filter((l) => DETAIL.test(l)),
    [],
    'nothing new, nothing sent',
  );
  await statsd.close();
});

test('allow and block lists apply to the detailed metrics', async () => {
  const { meter } = detailTraffic();
  const { transport, statsd } = inMemory(meter, { blockList: ['api.auth', 'api.db.query.duration'] });
  await statsd.flush();
  const names = new Set(transport.lines().map((l) => l.split('.orders_id.')[0]));
  assert.ok(names.has('apimeter.api.ratelimit.hits') && names.has('apimeter.api.db.query.count'));
  assert.ok(!names.has('apimeter.api.auth.count') && !names.has('apimeter.api.db.query.duration'));
  await statsd.close();
});

test('detailed mode off: no detailed line at all', async () => {
  const { transport, statsd } = inMemory(plainTraffic());
  await statsd.flush();
  assert.ok(transport.lines().length > 0);
  assert.deepEqual(
    transport.lines().filter((l) => DETAIL.test(l)),
    [],
  );
  await statsd.close();
});

test('DogStatsD: auth_type and success tags; every line parses strictly', async () => {
  const receiver = await startDogStatsdReceiver();
  const options: MeterOptions = { statsdDatadogEnabled: true };
  const { meter } = detailTraffic(options);
  const statsd = createStatsdExporter(meter, {
    host: '127.0.0.1',
    port: receiver.port,
    flushIntervalMs: 0,
    onStateChange: () => {},
  });
  try {
    assert.equal((await statsd.flush()).error, null);
    await eventually(() => receiver.lines.some((l) => l.name === 'apimeter.api.db.query.duration'), 'the lines');
    await sleep(50);
    assert.deepEqual(receiver.invalid, []);
    const got = receiver.lines
      .filter((l) => DETAIL.test(l.name + '.'))
      .map((l) => `${l.name}:${l.value}|${l.type}|#${[...l.tags].map(([k, v]) => `${k}:${v}`).join(',')}`);
    assert.deepEqual(got, [
      'apimeter.api.auth.count:2|c|#endpoint:/orders/_id_,method:GET,auth_type:bearer,success:false',
      'apimeter.api.auth.count:6|c|#endpoint:/orders/_id_,method:GET,auth_type:bearer,success:true',
      'apimeter.api.auth.count:1|c|#endpoint:/orders/_id_,method:GET,auth_type:api_key,success:true',
      'apimeter.api.ratelimit.hits:1|c|#endpoint:/orders/_id_,method:GET',
      'apimeter.api.db.query.count:9|c|#endpoint:/orders/_id_,method:GET',
      'apimeter.api.db.query.duration:24|c|#endpoint:/orders/_id_,method:GET',
      'apimeter.api.auth.count:3|c|#endpoint:/orders/_id_,method:POST,auth_type:basic,success:true',
      'apimeter.api.auth.count:1|c|#endpoint:/orders/_id_,method:POST,auth_type:session,success:false',
      'apimeter.api.ratelimit.hits:1|c|#endpoint:/orders/_id_,method:POST',
      'apimeter.api.db.query.count:3|c|#endpoint:/orders/_id_,method:POST',
      'apimeter.api.db.query.duration:3|c|#endpoint:/orders/_id_,method:POST',
    ]);
  } finally {
    await statsd.close();
    await receiver.close();
  }
});

test('the Etsy daemon counts the detailed counters exactly, across flushes', async () => {
  const daemon = await startEtsyStatsd(200);
  const { meter, get } = detailTraffic();
  const statsd = createStatsdExporter(meter, {
    host: '127.0.0.1',
    port: daemon.port,
    flushIntervalMs: 0,
    onStateChange: () => {},
  });
  try {
    assert.equal((await statsd.flush()).error, null);
    for (let i = 0; i < 4; i++) send(meter, get, { status: 200, ms: 1, headers: { 'x-api-key': 'k' }, queries: [2] });
    assert.equal((await statsd.flush()).error, null);
    const expected = new Map([
      ['apimeter.api.auth.count.orders_id.GET.bearer.true', 6],
      ['apimeter.api.auth.count.orders_id.GET.bearer.false', 2],
      ['apimeter.api.auth.count.orders_id.GET.api_key.true', 5],
      ['apimeter.api.auth.count.orders_id.POST.basic.true', 3],
      ['apimeter.api.auth.count.orders_id.POST.session.false', 1],
      ['apimeter.api.ratelimit.hits.orders_id.GET', 1],
      ['apimeter.api.ratelimit.hits.orders_id.POST', 1],
      ['apimeter.api.db.query.count.orders_id.GET', 13],
      ['apimeter.api.db.query.count.orders_id.POST', 3],
      ['apimeter.api.db.query.duration.orders_id.GET', 32],
      ['apimeter.api.db.query.duration.orders_id.POST', 3],
    ]);
    const detailCounters = () =>
      new Map([...daemon.totals().counters].filter(([k]) => DETAIL.test(k) && k.startsWith('apimeter.')));
    await eventually(() => [...expected].every(([k, v]) => detailCounters().get(k) === v), 'the daemon counts');
    await sleep(400); // two more daemon flushes: nothing may be added twice
    assert.deepEqual(detailCounters(), expected);
    assert.match(await daemon.command('stats'), /messages\.bad_lines_seen: 0/);
  } finally {
    await statsd.close();
    await daemon.stop();
  }
});
