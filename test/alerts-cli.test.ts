import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { LATENCY_SKETCH, Sketch, statusClassOf, Tally } from '../src/index.js';
import { run as alertsCli } from '../src/cli/alerts.js';
import { run as reportCli } from '../src/cli/report.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { SnapshotRow } from '../src/store/store.js';

const execFileP = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'apimeter-alerts-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } },
  };
}

const VALID = `rules:
  - name: DagsSlow
    endpoints: "* /api/v2/dags/*"
    signal: latency_p99
    window: 10m
    above: 2000
slos:
  - name: api-availability
    sli: availability
    objective: 99.5
    period: 7d
  - name: api-latency
    sli: latency
    threshold_ms: 300
    objective: 99
    period: 7d
`;

describe('apimeter alerts check', () => {
  test('a valid file: exit 0 and a summary', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, VALID);
    const { out, io: cio } = io();
    const ini = join(dir, 'empty.ini');
    writeFileSync(ini, '');
    assert.equal(await alertsCli(['check', file, '--ini', ini], cio), 0);
    assert.match(out.stdout, /valid: 1 rules, 2 SLOs \(8 burn-rate rules\), 0 Apdex targets; 4 default rules also run/);
  });

  test('an invalid file over the real command: exit 1 with every problem', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'rules:\n  - name: X\n    signal: latency_p95\n    window: -5m\n    above: 1\n    below: 2\n');
    const cli = new URL('../src/cli/main.ts', import.meta.url).pathname;
    const ini = join(dir, 'empty.ini');
    writeFileSync(ini, '');
    const result = await execFileP(process.execPath, [
      '--import',
      'tsx',
      cli,
      'alerts',
      'check',
      file,
      '--ini',
      ini,
    ]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /APIMETER_ERR_ALERT_RULES_INVALID: .*bad\.yaml: 2 problems/);
    assert.match(result.stderr, /rule "X": field window = "-5m": expected a duration from 1m to 30d/);
    assert.match(
      result.stderr,
      /rule "X": fields above\/below = above 1 and below 2: expected exactly one of above or below/,
    );
  });
});

describe('apimeter report slo over a SQLite store', () => {
  const NOW = Date.parse('2025-06-30T00:00:00Z');
  const HOUR = 3_600_000;
  const indexer = new Sketch(LATENCY_SKETCH);
  const db = join(dir, 'report.db');
  const ini = join(dir, 'report.ini');
  const rules = join(dir, 'report.yaml');
  let total = 0;
  let bad = 0;
  let slow = 0;

  test('md, json and csv agree with the requests stored', async () => {
    const store = await openSqliteStore(db);
    const rows: SnapshotRow[] = [];
    for (let h = 1; h <= 10 * 24; h++) {
      const t = new Tally();
      const n = 50 + (h % 9);
      for (let i = 0; i < n; i++) {
        const status = h % 11 === 0 && i < 3 ? 503 : 200;
        const ms = i === 0 && h % 4 === 0 ? 900 : 30;
        t.add(status, statusClassOf(status), -1, ms, indexer.indexOf(ms), -1, -1);
        if (h <= 7 * 24) {
          total++;
          if (status >= 500) bad++;
          if (ms > 300) slow++;
        }
      }
      rows.push({
        instance: 'a',
        method: 'GET',
        route: '/api/v2/dags',
        bucketStart: NOW - h * HOUR,
        bucketSeconds: 300,
        tally: t,
      });
    }
    await store.writeSnapshot(rows);
    await store.close();
    writeFileSync(ini, `[metrics]\napi_metrics_store_url = sqlite:${db}\n[alerts]\nrules_file = ${rules}\n`);
    writeFileSync(rules, VALID);

    const json = io();
    assert.equal(
      await reportCli(['slo', '--period', '7d', '--format', 'json', '--ini', ini], NOW, json.io),
      0,
      json.out.stderr,
    );
    const report = JSON.parse(json.out.stdout) as {
      slos: { name: string; total: number; bad: number; budget: { remaining_share: number } }[];
    };
    const [avail, latency] = report.slos;
    assert.equal(avail.total, total);
    assert.equal(avail.bad, bad);
    assert.ok(Math.abs(avail.budget.remaining_share - (1 - bad / (total * 0.005))) < 1e-9);
    assert.equal(latency.bad, slow);

    const md = io();
    assert.equal(await reportCli(['slo', '--period', '7d', '--ini', ini], NOW, md.io), 0);
    const lines = md.out.stdout.trim().split('\n');
    assert.match(lines[0], /^SLO report from sqlite, 2025-06-23T00:00:00.000Z to 2025-06-30T00:00:00.000Z$/);
    assert.match(lines[2], /^\| SLO \| SLI \| objective \|/);
    // The newest row ends 55 minutes before now: the report says it covers 7 days less that.
    assert.ok(
      lines.some((l) =>
        l.startsWith(`| api-availability | availability | 99.500 % | 7d | 6d23h5m | ${total} | ${bad} |`),
      ),
      md.out.stdout,
    );

    const csv = io();
    assert.equal(await reportCli(['slo', '--period', '7d', '--format', 'csv', '--ini', ini], NOW, csv.io), 0);
    const csvLines = csv.out.stdout.trim().split('\r\n');
    assert.equal(csvLines[0].split(',')[0], 'slo');
    assert.equal(csvLines[1].split(',')[6], String(total));

    const bad2 = io();
    assert.equal(await reportCli(['slo', '--format', 'xml', '--ini', ini], NOW, bad2.io), 2);
    assert.match(bad2.out.stderr, /--format must be md, json or csv/);
  });
});
