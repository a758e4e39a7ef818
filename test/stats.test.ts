import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../src/core/clock.js';
import { createStats, type StatsOptions } from '../src/core/stats.js';
import { MemoryStatsBackend, NoopStatsBackend, seriesKey, type StatsBackend } from '../src/core/stats-backends.js';

/** A Stats facade on a memory backend, collecting reports instead of warning on the console. */
function setup(options: StatsOptions = {}) {
  const memory = new MemoryStatsBackend();
  const reports: Array<[string, string]> = [];
  const stats = createStats({
    backends: [memory],
    onInvalidName: (name, reason) => reports.push([name, reason]),
    ...options,
  });
  return { stats, memory, reports };
}

/** Returns the given values in turn, then fails: proves how often sampling asked. */
function randomSequence(...values: number[]): () => number {
  return () => {
    const next = values.shift();
    if (next === undefined) throw new Error('sampleRandom called more often than expected');
    return next;
  };
}

test('the prefix is joined with a dot; no prefix, no dot', () => {
  const prefixed = setup({ prefix: 'api' });
  prefixed.stats.incr('request.count');
  assert.deepEqual([...prefixed.memory.counters], [['api.request.count', 1]]);

  const bare = setup();
  bare.stats.incr('request.count');
  assert.deepEqual([...bare.memory.counters], [['request.count', 1]]);
});

test('incr and decr send counts with their rate and tags', () => {
  const { stats, memory } = setup({ prefix: 'p' });
  stats.incr('hits');
  stats.incr('hits', 5);
  stats.incr('hits', 2, 1, { method: 'GET' });
  stats.decr('jobs');
  stats.decr('jobs', 3, 1, { queue: 'default' });
  assert.deepEqual(memory.calls, [
    { kind: 'count', name: 'p.hits', value: 1, rate: 1, tags: {} },
    { kind: 'count', name: 'p.hits', value: 5, rate: 1, tags: {} },
    { kind: 'count', name: 'p.hits', value: 2, rate: 1, tags: { method: 'GET' } },
    { kind: 'count', name: 'p.jobs', value: -1, rate: 1, tags: {} },
    { kind: 'count', name: 'p.jobs', value: -3, rate: 1, tags: { queue: 'default' } },
  ]);
  assert.equal(memory.counters.get('p.hits'), 6);
  assert.equal(memory.counters.get('p.hits|method=GET'), 2);
  assert.equal(memory.counters.get('p.jobs'), -1);
  assert.equal(memory.counters.get('p.jobs|queue=default'), -3);
});

test('gauge: last value, or a running sum for deltas', () => {
  const { stats, memory } = setup();
  stats.gauge('active', 4);
  stats.gauge('active', 7);
  assert.equal(memory.gauges.get('active'), 7);
  stats.gauge('active', 2, 1, true);
  stats.gauge('active', -5, 1, true);
  assert.equal(memory.gauges.get('active'), 4);
  stats.gauge('queue', 3, 1, false, { name: 'q1' });
  assert.equal(memory.gauges.get('queue|name=q1'), 3);
  assert.deepEqual(memory.calls.at(-1), {
    kind: 'gauge',
    name: 'queue',
    value: 3,
    rate: 1,
    delta: false,
    tags: { name: 'q1' },
  });
});

test('timing: milliseconds with tags, at rate 1', () => {
  const { stats, memory } = setup({ prefix: 'api' });
  stats.timing('request.duration', 12.5);
  stats.timing('request.duration', 3, { status: 200, ok: true });
  assert.deepEqual(memory.timings.get('api.request.duration'), [12.5]);
  assert.deepEqual(memory.timings.get('api.request.duration|ok=true,status=200'), [3]);
  assert.deepEqual(memory.calls[1], {
    kind: 'timing',
    name: 'api.request.duration',
    value: 3,
    rate: 1,
    tags: { status: 200, ok: true },
  });
});

test('series keys sort tags; recorded tags are copies', () => {
  assert.equal(seriesKey('m', { b: 2, a: 'x', c: true }), 'm|a=x,b=2,c=true');
  assert.equal(seriesKey('m', {}), 'm');
  const { stats, memory } = setup();
  const tags: Record<string, string> = { method: 'GET' };
  stats.incr('hits', 1, 1, tags);
  tags.method = 'POST';
  assert.deepEqual(memory.calls[0].tags, { method: 'GET' });
});

test('every backend receives every call; a throwing backend is isolated', () => {
  const first = new MemoryStatsBackend();
  const second = new MemoryStatsBackend();
  const broken: StatsBackend = {
    count() {
      throw new Error('socket closed');
    },
    gauge() {},
    timing() {},
  };
  const errors: unknown[] = [];
  const stats = createStats({ backends: [first, broken, second], onBackendError: (error) => errors.push(error) });
  stats.incr('a', 2);
  stats.timing('t', 9);
  assert.equal(first.counters.get('a'), 2);
  assert.equal(second.counters.get('a'), 2);
  assert.deepEqual(first.timings.get('t'), [9]);
  assert.deepEqual(second.timings.get('t'), [9]);
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, 'socket closed');
});

test('invalid names are dropped and reported once per name', () => {
  const { stats, memory, reports } = setup({ prefix: 'api' });
  const longest = 'x'.repeat(250 - 'api.'.length);
  stats.incr(longest);
  assert.equal(memory.counters.get(`api.${longest}`), 1, 'a full name of exactly 250 characters is valid');

  const tooLong = 'x'.repeat(251 - 'api.'.length);
  for (let i = 0; i < 3; i++) {
    stats.incr(tooLong);
    stats.incr('bad name');
    stats.gauge('bad:name', 1);
    stats.timing('café', 1);
  }
  stats.incr('');
  assert.equal(memory.calls.length, 1);
  assert.deepEqual(reports, [
    [tooLong, '251 characters, more than 250'],
    ['bad name', 'only A-Z a-z 0-9 _ . - / are allowed'],
    ['bad:name', 'only A-Z a-z 0-9 _ . - / are allowed'],
    ['café', 'only A-Z a-z 0-9 _ . - / are allowed'],
    ['', 'the name is empty'],
  ]);
});

test('the default report is one console.warn line per name', (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const memory = new MemoryStatsBackend();
  const stats = createStats({ backends: [memory] });
  stats.incr('bad name');
  stats.incr('bad name');
  stats.incr('good-name/ok_1.x');
  assert.equal(warn.mock.callCount(), 1);
  assert.deepEqual(warn.mock.calls[0].arguments, [
    'apimeter: metric "bad name" dropped: only A-Z a-z 0-9 _ . - / are allowed',
  ]);
  assert.equal(memory.counters.get('good-name/ok_1.x'), 1);
});

test('allow list: only names starting with an entry pass (case-insensitive, prefix not included)', () => {
  const { stats, memory, reports } = setup({
    prefix: 'api',
    allowList: ['request.', ' Auth ', ''],
    blockList: ['request.'],
  });
  stats.incr('request.count');
  stats.incr('AUTH.count');
  stats.incr('auth');
  stats.incr('requests');
  stats.incr('api.request.count');
  stats.gauge('other', 1);
  assert.deepEqual([...memory.counters.keys()], ['api.request.count', 'api.AUTH.count', 'api.auth']);
  assert.equal(memory.gauges.size, 0);
  assert.deepEqual(reports, [], 'filtered names are not reported');
});

test('block list: names starting with an entry are dropped', () => {
  const { stats, memory } = setup({ prefix: 'api', blockList: ['debug', 'Internal.'] });
  stats.incr('debug');
  stats.incr('debugger.hits');
  stats.incr('internal.queue');
  stats.incr('internalx');
  stats.incr('request.count');
  assert.deepEqual([...memory.counters.keys()], ['api.internalx', 'api.request.count']);
});

test('sample rate: sent only when random() < rate, with the rate passed on', () => {
  const { stats, memory } = setup({ sampleRandom: randomSequence(0.1, 0.6, 0.49, 0.5, 0.0) });
  for (let i = 0; i < 4; i++) stats.incr('sampled', 1, 0.5);
  assert.deepEqual(
    memory.calls.map((c) => [c.value, c.rate]),
    [
      [1, 0.5],
      [1, 0.5],
    ],
  );
  stats.incr('never', 1, 0);
  assert.equal(memory.counters.has('never'), false);
  // Rate 1 never asks for a random number (the sequence is now empty and would throw).
  stats.incr('always', 1, 1);
  stats.gauge('always', 3);
  assert.equal(memory.counters.get('always'), 1);
});

test('sample rate outside [0, 1] and non-finite values are dropped, reported once', () => {
  const { stats, memory, reports } = setup({ sampleRandom: randomSequence() });
  stats.incr('a', 1, 1.5);
  stats.incr('a', 1, 1.5);
  stats.incr('b', 1, -0.1);
  stats.gauge('c', 1, Number.NaN);
  stats.gauge('d', Number.POSITIVE_INFINITY);
  stats.timing('e', Number.NaN);
  stats.timing('e', Number.NaN);
  assert.equal(memory.calls.length, 0);
  assert.deepEqual(reports, [
    ['a', 'sample rate 1.5 is outside [0, 1]'],
    ['b', 'sample rate -0.1 is outside [0, 1]'],
    ['c', 'sample rate NaN is outside [0, 1]'],
    ['d', 'value Infinity is not a finite number'],
    ['e', 'value NaN is not a finite number'],
  ]);
});

test('timer: start/stop measures on the clock and sends the duration', () => {
  const clock = new ManualClock(1000);
  const { stats, memory } = setup({ prefix: 'api', clock });
  const timer = stats.timer('job.duration', { job: 'cleanup' });
  assert.equal(timer.duration, undefined);
  assert.equal(timer.start(), timer);
  clock.advance(42);
  assert.equal(timer.stop(), 42);
  assert.equal(timer.duration, 42);
  assert.deepEqual(memory.timings.get('api.job.duration|job=cleanup'), [42]);

  timer.start();
  clock.advance(8);
  assert.equal(timer.stop(false), 8);
  assert.equal(timer.duration, 8);
  assert.deepEqual(memory.timings.get('api.job.duration|job=cleanup'), [42], 'stop(false) sends nothing');
});

test('timer: stop before start sends nothing and is reported', () => {
  const { stats, memory, reports } = setup();
  const timer = stats.timer('never.started');
  assert.equal(timer.stop(), 0);
  assert.equal(timer.duration, undefined);
  assert.equal(memory.calls.length, 0);
  assert.deepEqual(reports, [['never.started', 'timer stopped before it was started']]);
});

test('timer: the default clock is performance.now()', async () => {
  const { stats, memory } = setup();
  const timer = stats.timer('sleep').start();
  await sleep(30);
  const ms = timer.stop();
  assert.ok(ms >= 25 && ms < 5000, `measured ${ms} ms for a 30 ms sleep`);
  assert.deepEqual(memory.timings.get('sleep'), [ms]);
});

test('time: a sync function', () => {
  const clock = new ManualClock();
  const { stats, memory } = setup({ clock });
  const result = stats.time(
    'work',
    () => {
      clock.advance(7);
      return 'done';
    },
    { kind: 'sync' },
  );
  assert.equal(result, 'done');
  assert.deepEqual(memory.timings.get('work|kind=sync'), [7]);
});

test('time: a throwing function is timed and the error rethrown', () => {
  const clock = new ManualClock();
  const { stats, memory } = setup({ clock });
  const boom = new Error('boom');
  assert.throws(
    () =>
      stats.time('work', () => {
        clock.advance(3);
        throw boom;
      }),
    (error) => error === boom,
  );
  assert.deepEqual(memory.timings.get('work'), [3]);
});

test('time: an async function is timed when its promise settles', async () => {
  const clock = new ManualClock();
  const { stats, memory } = setup({ clock });
  let resolve!: (value: number) => void;
  const pending = stats.time('query', () => new Promise<number>((r) => (resolve = r)));
  clock.advance(15);
  assert.equal(memory.timings.size, 0, 'nothing is recorded before the promise settles');
  resolve(99);
  assert.equal(await pending, 99);
  assert.deepEqual(memory.timings.get('query'), [15]);
});

test('time: a rejecting function is timed and the rejection passed on', async () => {
  const clock = new ManualClock();
  const { stats, memory } = setup({ clock });
  const failure = new Error('db down');
  await assert.rejects(
    stats.time('query', async () => {
      clock.advance(5);
      await Promise.resolve();
      clock.advance(6);
      throw failure;
    }),
    (error) => error === failure,
  );
  assert.deepEqual(memory.timings.get('query'), [11]);
});

test('close: closes every backend, reports failures, drops later calls', async () => {
  const memory = new MemoryStatsBackend();
  const noClose: StatsBackend = { count() {}, gauge() {}, timing() {} };
  const failing: StatsBackend = {
    count() {},
    gauge() {},
    timing() {},
    close: () => Promise.reject(new Error('flush failed')),
  };
  const errors: unknown[] = [];
  const stats = createStats({
    backends: [memory, noClose, failing],
    onBackendError: (error, backend) => errors.push([(error as Error).message, backend === failing]),
  });
  stats.incr('before');
  await stats.close();
  assert.equal(memory.closed, true);
  assert.deepEqual(errors, [['flush failed', true]]);
  stats.incr('after');
  assert.deepEqual([...memory.counters.keys()], ['before']);
});

test('repeated names are cheap and stay correct beyond the 10,000-name cache', () => {
  const { stats, memory, reports } = setup({ blockList: ['blocked'] });
  for (let i = 0; i < 10_050; i++) stats.incr(`n${i}`);
  stats.incr('blocked.late');
  stats.incr('late name');
  stats.incr('late name');
  stats.incr('n10049');
  assert.equal(memory.counters.size, 10_050);
  assert.equal(memory.counters.get('n10049'), 2);
  assert.equal(memory.counters.has('blocked.late'), false);
  assert.deepEqual(reports, [['late name', 'only A-Z a-z 0-9 _ . - / are allowed']]);
});

test('MemoryStatsBackend.reset and NoopStatsBackend', async () => {
  const { stats, memory } = setup();
  stats.incr('a');
  stats.gauge('g', 1);
  stats.timing('t', 1);
  memory.reset();
  assert.equal(memory.counters.size + memory.gauges.size + memory.timings.size + memory.calls.length, 0);

  const noop = new NoopStatsBackend();
  const quiet = createStats({ backends: [noop] });
  quiet.incr('a');
  quiet.gauge('g', 1, 1, true);
  quiet.timing('t', 1);
  await quiet.close();
});
