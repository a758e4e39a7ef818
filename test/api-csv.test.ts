import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMeter, ErrorKind } from '../src/index.js';
import { csvCell } from '../src/api/index.js';
import { get, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';
import { parseCsv } from './helpers/csv.js';

/** Cells a spreadsheet could run as a formula (OWASP's CSV injection list, and what slips past it). */
const RISKY = [
  '=1+1',
  '+1',
  '-2',
  '@SUM(A1)',
  '\t=1+1',
  '\r=1+1',
  '\n=1+1',
  '\u0000=1',
  '\t',
  '\rplain',
  ' =HYPERLINK("http://x")',
  '   +1',
  '\u00a0=1',
  '\u3000=1',
  '\u200b=1',
  '\ufeff=1',
  '\u2060@x',
  '＝1+1',
  '＋1',
  '－1',
  '＠SUM(A1)',
  ' ＝1',
  '﹦1',
  '﹢1',
  '﹣1',
  '−1',
  '➕1',
];
const SAFE = ['/dags', '/dags/{dag_id}', 'a=b', '1+1', ' /leading-space', 'x@y', "'already"];

describe('CSV export: formula injection guard (OWASP) on every text cell', () => {
  test('csvCell: risky cells get a leading quote, safe ones stay as they are', () => {
    for (const cell of RISKY) {
      assert.deepEqual(parseCsv(`${csvCell(cell)}\r\n`), [[`'${cell}`]], JSON.stringify(cell));
    }
    for (const cell of SAFE) assert.deepEqual(parseCsv(`${csvCell(cell)}\r\n`), [[cell]], JSON.stringify(cell));
    assert.equal(csvCell(-2), '-2', 'numbers are numbers');
  });

  let served: Served;
  before(async () => {
    const meter = createMeter({ iniPath: false, env: {} });
    for (const route of [...RISKY, ...SAFE]) {
      meter.record(meter.endpoint('GET', route)!, 200, 1, -1, -1, ErrorKind.None);
    }
    served = await serveApi({ meter, cacheSeconds: 0 });
  });
  after(() => served?.close());

  test('GET /endpoints?format=csv: every route as sent, guarded where risky', async () => {
    const res = await get(`${served.base}/api/v2/metrics/endpoints?window=all&format=csv&limit=1000`);
    assert.equal(res.status, 200, res.text);
    const [header, ...rows] = parseCsv(res.text);
    const route = header.indexOf('route');
    const got = new Set(rows.map((r) => r[route]));
    assert.equal(rows.length, RISKY.length + SAFE.length);
    for (const cell of RISKY) assert.ok(got.has(`'${cell}`), `guarded: ${JSON.stringify(cell)}`);
    for (const cell of SAFE) assert.ok(got.has(cell), `as recorded: ${JSON.stringify(cell)}`);
  });
});
