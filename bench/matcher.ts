/**
 * Cost of mapping a request to its template on Apache Airflow's API (110 operations): the trie matcher
 * (`lookup`, and `match` with parameter values) against the obvious alternative, a list of compiled
 * regular expressions tried in turn; and the heuristic normalizer on the same paths.
 *
 *   npx tsx bench/matcher.ts [--quick]
 *
 * Paths: every template with realistic ids (run ids percent-encoded, multi-segment keys), shuffled.
 * Each figure is the median of several rounds; prints rows, then one JSON line.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Normalizer } from '../src/routing/normalizer.js';
import { RouteMatcher } from '../src/routing/openapi-matcher.js';
import { emitResult, fmt, median, rng, ROOT, table } from './lib.js';

const quick = process.argv.includes('--quick');
const FIXTURES = path.resolve(ROOT, '..', 'shared', 'fixtures');
const SPEC = path.join(FIXTURES, 'airflow-v2-openapi.yaml');
const MULTI = ['variable_key', 'pool_name', 'xcom_key'];

const VALUES: Record<string, string[]> = {
  dag_id: ['example_bash_operator', 'etl.daily-v2', '~'],
  dag_run_id: ['manual__2024-01-01T00:00:00+00:00', 'scheduled__2024-06-30T12:00:00.999999+00:00', '~'],
  task_id: ['extract', 'group_1.transform_orders'],
  map_index: ['-1', '17'],
  try_number: ['1', '3'],
  task_try_number: ['2'],
  asset_id: ['42'],
  asset_alias_id: ['7'],
  backfill_id: ['12'],
  event_log_id: ['1001'],
  import_error_id: ['5'],
  version_number: ['3'],
  connection_id: ['aws_default'],
  section: ['core'],
  option: ['dags_folder'],
  file_token: ['Ii9maWxlcy9kYWdzL2V4YW1wbGUucHki.ZmFrZS1zaWduYXR1cmU'],
  pool_name: ['default_pool', 'team/etl'],
  variable_key: ['my.var', 'config/prod/db_url'],
  xcom_key: ['return_value', 'results/part-0001.json'],
};

const routes = readFileSync(path.join(FIXTURES, 'airflow-v2-routes.tsv'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => l.split('\t') as [string, string]);

const requests: [string, string][] = [];
for (const [method, template] of routes) {
  for (let v = 0; v < 3; v++) {
    const p = template.replace(/\{([^}]+)\}/g, (_, n: string) => {
      const value = VALUES[n][v % VALUES[n].length];
      return MULTI.includes(n) ? value.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(value);
    });
    requests.push([method, p]);
  }
}
const random = rng(42);
for (let i = requests.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [requests[i], requests[j]] = [requests[j], requests[i]];
}

const matcher = RouteMatcher.fromFile(SPEC, { multiSegmentParams: MULTI });

/** The baseline: one anchored expression per operation, tried in declaration order (literal-first sorted). */
const regexList = routes
  .map(([method, template]) => ({
    method,
    template,
    literalSegments: template.split('/').filter((s) => !s.includes('{')).length,
    re: new RegExp(
      '^' +
        template
          .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
          .replace(/\{([^}]+)\}/g, (_, n: string) => (MULTI.includes(n) ? '(.+)' : '([^/]+)')) +
        '$',
    ),
  }))
  // Literal segments first, so `/dagRuns/list` is tried before `/dagRuns/{dag_run_id}`.
  .sort((a, b) => b.literalSegments - a.literalSegments);

function regexLookup(method: string, target: string): string | null {
  const q = target.indexOf('?');
  const p = q === -1 ? target : target.slice(0, q);
  for (const r of regexList) if (r.method === method && r.re.test(p)) return r.template;
  return null;
}

// Every path must map back to its template (the same check as the unit test), else the figures lie.
let wrong = 0;
for (const [method, p] of requests) {
  const want = routes.find(([m, t]) => m === method && matcher.lookup(method, p)?.template === t);
  if (want === undefined) wrong++;
}
if (wrong > 0) throw new Error(`${wrong} paths did not map back to their template`);

let sink = 0;
function time(fn: (method: string, target: string) => unknown, iterations: number): number {
  const n = requests.length;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const [m, p] = requests[i % n];
    if (fn(m, p) !== null) sink++;
  }
  return Number(process.hrtime.bigint() - t0) / iterations;
}

const normalizer = new Normalizer();
const variants: [string, string, (m: string, p: string) => unknown][] = [
  ['lookup', 'RouteMatcher.lookup (template only)', (m, p) => matcher.lookup(m, p)],
  ['match', 'RouteMatcher.match (with parameter values)', (m, p) => matcher.match(m, p)],
  ['regexList', 'baseline: 110 regular expressions in turn', regexLookup],
  ['normalizer', 'Normalizer.normalize (heuristics, no spec)', (_m, p) => normalizer.normalize(p)],
];

const rounds = quick ? 5 : 15;
const iterations = quick ? 100_000 : 400_000;
const results: Record<string, { median: number; rounds: number[] }> = {};
for (const [, , fn] of variants) time(fn, iterations); // warm-up
for (const [key, , fn] of variants) {
  const xs: number[] = [];
  for (let r = 0; r < rounds; r++) xs.push(time(fn, iterations));
  results[key] = { median: median(xs), rounds: xs };
}

process.stdout.write(
  `matcher: ${requests.length} concrete Airflow paths (every template, realistic ids), ${rounds} rounds × ${iterations.toLocaleString('en-US')} lookups${quick ? ' (--quick)' : ''}\n\n`,
);
process.stdout.write(
  table(
    ['variant', 'ns/lookup (median)', 'min…max'],
    variants.map(([key, label]) => [
      label,
      fmt.fixed(results[key].median, 0),
      `${fmt.fixed(Math.min(...results[key].rounds), 0)}…${fmt.fixed(Math.max(...results[key].rounds), 0)}`,
    ]),
  ) + '\n',
);
emitResult({
  bench: 'matcher',
  quick,
  paths: requests.length,
  operations: matcher.routes.length,
  nsPerLookup: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.median])),
  rounds: results,
  sink: sink > 0,
});
