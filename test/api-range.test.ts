import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMeter, ErrorKind, ManualClock, windowTally } from '../src/index.js';
import type { Meter } from '../src/index.js';
import { MemoryHistory } from '../src/api/index.js';
import type { EndpointListJson, SummaryJson } from '../src/api/index.js';
import { get, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';

/*
 * Ranges answered from history (5-minute intervals) and the ring (minutes): every figure is checked
 * against the requests the test placed in the range the answer says it covers.
 */

const P = '/api/v2/metrics';
const MIN = 60_000;
const STEP = 5 * MIN;
const NOW = Date.parse('2025-03-03T12:02:00Z');
const SPLIT = Date.parse('2025-03-03T11:30:00Z');
const HISTORY_FROM = NOW - 48 * 60 * MIN - 2 * MIN;
const iso = (ms: number) => new Date(ms).toISOString();

/** When each request was made (history and live alike). */
const sent: number[] = [];

/** Requests at +30 s and +3 min of every interval (more in some), stored as one interval each. */
function buildHistory(): MemoryHistory {
  const history = new MemoryHistory(STEP);
  for (let start = HISTORY_FROM, k = 0; start < SPLIT; start += STEP, k++) {
    const scratch = createMeter({ iniPath: false, env: {}, clock: new ManualClock(start) });
    const ep = scratch.endpoint('GET', '/a')!;
    const times = [start + 30_000, start + 3 * MIN, ...(k % 4 === 0 ? [start + 4 * MIN] : [])];
    for (const at of times) {
      scratch.record(ep, at % (7 * STEP) === 30_000 ? 500 : 200, 10, -1, -1, ErrorKind.None);
      sent.push(at);
    }
    history.add(start, 'GET', '/a', windowTally(ep, 'all', start + STEP, start)[0]);
  }
  return history;
}

const inRange = (from: number, to: number) => sent.filter((at) => at >= from && at < to).length;

function liveMeter(retentionDays?: number): { meter: Meter; clock: ManualClock } {
  const clock = new ManualClock(NOW - 40 * MIN);
  const env: Record<string, string> =
    retentionDays === undefined ? {} : { APIMETER__METRICS__API_METRICS_RETENTION_DAYS: String(retentionDays) };
  return { meter: createMeter({ iniPath: false, env, clock }), clock };
}

describe('start/end ranges answered from history', () => {
  let served: Served;

  before(async () => {
    const history = buildHistory();
    const { meter, clock } = liveMeter();
    const ep = meter.endpoint('GET', '/a')!;
    // After the persisted point: read from the ring.
    for (const at of [SPLIT + 5 * MIN, SPLIT + 11 * MIN + 10_000, SPLIT + 20 * MIN, NOW - 30_000]) {
      clock.set(at);
      for (let i = 0; i < 3; i++) meter.record(ep, 200, 10, -1, -1, ErrorKind.None);
      sent.push(at, at, at);
    }
    clock.set(NOW);
    served = await serveApi({ meter, history, cacheSeconds: 0 });
  });
  after(() => served?.close());

  async function list(query: string): Promise<EndpointListJson> {
    const res = await get<EndpointListJson>(`${served.base}${P}/endpoints?${query}`);
    assert.equal(res.status, 200, res.text);
    return res.json;
  }

  /** The answer's count and rate are those of the requests inside the range it reports. */
  function covers(json: EndpointListJson, what: string): void {
    const from = Date.parse(json.range.from);
    const to = Date.parse(json.range.to);
    const count = json.endpoints.find((e) => e.route === '/a')?.count ?? 0;
    assert.equal(count, inRange(from, to), `${what}: count vs requests in [${json.range.from}, ${json.range.to})`);
    assert.equal(json.range.seconds, (to - from) / 1000, `${what}: seconds`);
    const rate = json.endpoints.find((e) => e.route === '/a')?.rate_per_second ?? 0;
    assert.ok(Math.abs(rate - count / json.range.seconds) < 1e-12, `${what}: rate ${rate}`);
  }

  test('a range inside one stored interval reports the whole interval it counted', async () => {
    const start = Date.parse('2025-03-03T10:00:00Z');
    const json = await list(`start=${iso(start)}&end=${iso(start + MIN)}`);
    assert.equal(json.range.source, 'history');
    assert.equal(json.range.from, iso(start));
    assert.equal(json.range.to, iso(start + STEP), 'snapped out to the 5-minute interval');
    covers(json, '[10:00, 10:01]');
    // Whatever the edges, the count is that of the range reported.
    covers(await list(`start=2025-03-03T07:12:00Z&end=2025-03-03T09:58:30Z`), '[07:12, 09:58:30]');
  });

  test('the live part of a range ending before now is read only up to its end', async () => {
    const end = SPLIT + 15 * MIN + 20_000;
    const json = await list(`start=2025-03-03T09:00:00Z&end=${iso(end)}`);
    assert.equal(json.range.source, 'memory+history');
    assert.equal(json.range.to, iso(SPLIT + 16 * MIN), 'the end snapped up to the ring minute');
    covers(json, 'to 11:45:20');
    assert.equal(json.endpoints[0].count, inRange(Date.parse('2025-03-03T09:00:00Z'), end), 'nothing after end');
  });

  test('a history window up to now covers now', async () => {
    const json = await list('window=6h');
    assert.equal(json.range.to, iso(NOW));
    covers(json, 'window=6h');
  });

  test('/summary: the previous period of a history window is adjacent and does not overlap', async () => {
    const res = await get<SummaryJson>(`${served.base}${P}/summary?window=6h`);
    assert.equal(res.status, 200, res.text);
    const { range, comparison } = res.json;
    assert.equal(comparison.reason, null);
    const prev = comparison.previous!;
    assert.equal(prev.to, range.from, 'the previous period ends where the current one starts');
    const from = Date.parse(range.from);
    assert.equal(res.json.count, inRange(from, NOW + 1));
    assert.equal(prev.count, inRange(Date.parse(prev.from), from), 'previous: only its own intervals');
    assert.ok(Date.parse(range.from) - Date.parse(prev.from) >= Date.parse(range.to) - from, 'as long as the current');
    assert.equal(comparison.change!.count.absolute, res.json.count - prev.count);
  });

  test('/summary window=1h: a previous period read from history shares no interval with the window', async () => {
    const res = await get<SummaryJson>(`${served.base}${P}/summary?window=1h`);
    assert.equal(res.status, 200, res.text);
    const { range, comparison } = res.json;
    assert.equal(range.source, 'memory');
    const prev = comparison.previous!;
    assert.ok(prev !== null, comparison.reason ?? '');
    assert.ok(
      Date.parse(prev.to) <= Date.parse(range.from),
      `previous ends ${prev.to}, the window starts ${range.from}`,
    );
    // The window's first slot is 11:03 (it reports 11:22, when this meter started): the stored intervals
    // end at 11:00, less than one interval before it.
    assert.equal(prev.to, iso(Date.parse('2025-03-03T11:00:00Z')));
    assert.equal(prev.count, inRange(Date.parse(prev.from), Date.parse(prev.to)));
    assert.equal(res.json.count, inRange(Date.parse(range.from), NOW + 1) - inRange(Date.parse(range.from), SPLIT));
  });
});

describe('/summary: a previous period past the history kept', () => {
  let served: Served;

  before(async () => {
    const { meter, clock } = liveMeter(1);
    clock.set(NOW);
    served = await serveApi({ meter, history: buildHistory(), cacheSeconds: 0 });
  });
  after(() => served?.close());

  test('is not compared, and says why', async () => {
    const res = await get<SummaryJson>(`${served.base}${P}/summary?window=24h`);
    assert.equal(res.status, 200, res.text);
    const { comparison } = res.json;
    assert.equal(comparison.previous, null);
    assert.equal(comparison.change, null);
    assert.match(comparison.reason ?? '', /starts before the history kept .*api_metrics_retention_days = 1/);
    // Within what is kept, it is compared.
    const short = await get<SummaryJson>(`${served.base}${P}/summary?window=6h`);
    assert.equal(short.json.comparison.reason, null);
    assert.ok(short.json.comparison.previous !== null);
  });
});
