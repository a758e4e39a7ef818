/**
 * The OpenAPI matcher on Apache Airflow's real v2 API (test/fixtures): every concrete path built
 * from every template, with ids as Airflow users have them and encoded as clients send them, maps back
 * to its template and gives back its parameter values; plus the facts the fixture README lists.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  checkRequestPath,
  loadOpenApiDocument,
  RouteMatcher,
  serverBasePaths,
} from '../src/routing/openapi-matcher.js';
import { ApimeterError } from '../src/errors.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const SPEC = new URL('airflow-v2-openapi.yaml', FIXTURES).pathname;
const ROUTES: [string, string][] = readFileSync(new URL('airflow-v2-routes.tsv', FIXTURES), 'utf8')
  .trim()
  .split('\n')
  .map((line) => line.split('\t') as [string, string]);

// Starlette `{name:path}` convertors in Airflow's route code (fixtures/README.md).
const MULTI = ['variable_key', 'pool_name', 'xcom_key'];
const matcher = RouteMatcher.fromFile(SPEC, { multiSegmentParams: MULTI });

/** Values Airflow users have for each path parameter: dots, dashes, run ids with `:` and `+`, spaces. */
const VALUES: Record<string, string[]> = {
  dag_id: ['example_bash_operator', 'etl.daily-v2', 'team_a.ingest.orders_2024'],
  dag_run_id: [
    'manual__2024-01-01T00:00:00+00:00',
    'scheduled__2024-06-30T12:00:00+00:00',
    'backfill__2024-02-29T23:59:59.999999+00:00',
    'asset_triggered__2025-03-01T08:15:00.123+00:00',
    'my run #7 (retry)',
  ],
  task_id: ['extract', 'group_1.transform_orders', 'load-to-s3'],
  map_index: ['-1', '0', '17'],
  try_number: ['1', '3'],
  task_try_number: ['2'],
  asset_id: ['42'],
  asset_alias_id: ['7'],
  backfill_id: ['12'],
  event_log_id: ['1001'],
  import_error_id: ['5'],
  version_number: ['3'],
  connection_id: ['aws_default', 'postgres.prod-eu'],
  section: ['core'],
  option: ['dags_folder'],
  file_token: ['Ii9maWxlcy9kYWdzL2V4YW1wbGUucHki.ZmFrZS1zaWduYXR1cmU-Xy'],
  pool_name: ['default_pool', 'team/etl/high priority'],
  variable_key: ['my.var', 'config/prod/db_url', 'a b/ç/%literal'],
  xcom_key: ['return_value', 'results/part-0001.json'],
};

type Encoding = 'encodeURIComponent' | 'keep-slashes' | 'raw-reserved';

/**
 * How clients write a value into a path: fully encoded (`encodeURIComponent`, as the generated Python
 * client and most JS clients do), multi-segment values with their `/` kept, or `:`/`+`/`@` left raw
 * (allowed in a path segment by RFC 3986, and what curl users type).
 */
function encode(value: string, how: Encoding): string {
  if (how === 'encodeURIComponent') return encodeURIComponent(value);
  if (how === 'keep-slashes') return value.split('/').map(encodeURIComponent).join('/');
  return encodeURIComponent(value).replace(/%3A/g, ':').replace(/%2B/g, '+').replace(/%40/g, '@');
}

interface Case {
  method: string;
  template: string;
  path: string;
  params: Record<string, string>;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const [method, template] of ROUTES) {
    const names = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    const variants = Math.max(1, ...names.map((n) => VALUES[n].length));
    const listRoute = !template.endsWith('}');
    for (let v = 0; v < variants; v++) {
      for (const how of ['encodeURIComponent', 'keep-slashes', 'raw-reserved'] as Encoding[]) {
        const params: Record<string, string> = {};
        for (const n of names) params[n] = VALUES[n][v % VALUES[n].length];
        out.push(build(method, template, params, how));
      }
    }
    // `~` is Airflow's "all DAGs" (and "all runs") id in list routes.
    if (listRoute && names.includes('dag_id')) {
      const params: Record<string, string> = {};
      for (const n of names) params[n] = n === 'dag_id' || n === 'dag_run_id' ? '~' : VALUES[n][0];
      out.push(build(method, template, params, 'encodeURIComponent'));
    }
  }
  return out;
}

function build(method: string, template: string, params: Record<string, string>, how: Encoding): Case {
  const path = template.replace(/\{([^}]+)\}/g, (_, n: string) =>
    encode(params[n], MULTI.includes(n) && how !== 'encodeURIComponent' ? 'keep-slashes' : how),
  );
  return { method, template, path, params };
}

describe('OpenAPI matcher on the Airflow v2 API', () => {
  test('loads every operation of the spec, without conflicts', () => {
    assert.equal(matcher.routes.length, ROUTES.length);
    assert.deepEqual(matcher.conflicts, []);
    assert.deepEqual(
      matcher.routes.map((r) => `${r.method}\t${r.template}`).sort(),
      ROUTES.map((r) => r.join('\t')).sort(),
    );
    assert.equal(matcher.routes.find((r) => r.template === '/api/v2/version')?.operationId, 'get_version');
  });

  test('every concrete path built from every template maps back to it, with its values decoded once', () => {
    const all = cases();
    assert.ok(all.length > 600, `${all.length} cases`);
    const failures: string[] = [];
    for (const c of all) {
      const m = matcher.match(c.method, c.path);
      if (m === null || m.operation.template !== c.template || m.operation.method !== c.method) {
        failures.push(`${c.method} ${c.path} → ${m === null ? 'no match' : m.operation.template}`);
        continue;
      }
      if (JSON.stringify(m.params) !== JSON.stringify(c.params)) {
        failures.push(`${c.method} ${c.path}: params ${JSON.stringify(m.params)}`);
      }
      if (matcher.lookup(c.method, c.path + '?limit=10&order_by=-start_date') !== m.operation) {
        failures.push(`${c.method} ${c.path}: lookup with a query string differs`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('literal routes beat parameters only for their own method (Airflow registers them first)', () => {
    const list = '/api/v2/dags/etl/dagRuns/list';
    assert.equal(matcher.lookup('POST', list)?.template, '/api/v2/dags/{dag_id}/dagRuns/list');
    assert.equal(matcher.lookup('GET', list)?.template, '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}');
    assert.deepEqual(matcher.match('GET', list)?.params, { dag_id: 'etl', dag_run_id: 'list' });
    // A literal branch that dead-ends deeper gives way to the parameter (backtracking).
    assert.equal(
      matcher.lookup('GET', '/api/v2/assets/events/queuedEvents')?.template,
      '/api/v2/assets/{asset_id}/queuedEvents',
    );
    assert.equal(matcher.lookup('GET', '/api/v2/assets/events')?.template, '/api/v2/assets/events');
    const ti = '/api/v2/dags/d/dagRuns/r/taskInstances/t';
    assert.equal(
      matcher.lookup('GET', `${ti}/tries`)?.template,
      '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries',
    );
    assert.equal(
      matcher.lookup('GET', `${ti}/3`)?.template,
      '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}',
    );
    // `dry_run` is PATCH-only: a GET falls through to `{map_index}`.
    assert.equal(
      matcher.lookup('GET', `${ti}/dry_run`)?.template,
      '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}',
    );
  });

  test('`~` is an id like any other', () => {
    assert.equal(matcher.lookup('GET', '/api/v2/dags/~/dagRuns')?.template, '/api/v2/dags/{dag_id}/dagRuns');
    assert.equal(
      matcher.lookup('GET', '/api/v2/dags/~/dagRuns/~/taskInstances')?.template,
      '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances',
    );
  });

  test('unknown paths, trailing slashes and other methods do not match', () => {
    for (const [method, path] of [
      ['GET', '/api/v2/nope'],
      ['GET', '/api/v2/dags/etl/nope'],
      ['GET', '/api/v2/dags/'],
      ['GET', '/api/v2/version/'],
      ['GET', '/api/v2//dags'],
      ['GET', '/api/v2/dags//dagRuns'],
      ['GET', 'api/v2/version'],
      ['GET', '/api/v3/version'],
      ['DELETE', '/api/v2/version'],
      ['POST', '/api/v2/dags/etl'],
      ['BREW', '/api/v2/version'],
    ]) {
      assert.equal(matcher.lookup(method, path), null, `${method} ${path}`);
    }
    assert.equal(matcher.lookup('HEAD', '/api/v2/version')?.template, '/api/v2/version');
    const loose = RouteMatcher.fromFile(SPEC, { trailingSlash: 'ignore', headMatchesGet: false });
    assert.equal(loose.lookup('GET', '/api/v2/version/')?.template, '/api/v2/version');
    assert.equal(loose.lookup('GET', '/api/v2/dags/etl/')?.template, '/api/v2/dags/{dag_id}');
    assert.equal(loose.lookup('HEAD', '/api/v2/version'), null);
  });

  test('multi-segment parameters only where declared', () => {
    const plain = RouteMatcher.fromFile(SPEC);
    assert.equal(plain.lookup('GET', '/api/v2/variables/a/b'), null);
    assert.equal(plain.lookup('GET', '/api/v2/variables/a%2Fb')?.template, '/api/v2/variables/{variable_key}');
    assert.deepEqual(matcher.match('GET', '/api/v2/pools/a/b/c')?.params, { pool_name: 'a/b/c' });
    assert.deepEqual(matcher.match('DELETE', '/api/v2/dags/d/dagRuns/r/taskInstances/t/xcomEntries/k/1/2')?.params, {
      dag_id: 'd',
      dag_run_id: 'r',
      task_id: 't',
      xcom_key: 'k/1/2',
    });
  });

  test('percent-decoding happens once, after splitting on /', () => {
    assert.deepEqual(matcher.match('GET', '/api/v2/dags/a%252Fb')?.params, { dag_id: 'a%2Fb' });
    assert.deepEqual(matcher.match('GET', '/api/v2/dags/a%2Fb')?.params, { dag_id: 'a/b' });
    assert.equal(matcher.lookup('GET', '/api/v2/dag%53tats')?.template, '/api/v2/dagStats');
    assert.equal(matcher.lookup('GET', '/api/v2/dags/%E0%A4%A')?.template, '/api/v2/dags/{dag_id}');
    assert.equal(checkRequestPath('/api/v2/dags/%E0%A4%A'), 'malformed percent-encoding');
    assert.equal(checkRequestPath('/api/v2/dags/%C3%28'), 'percent-encoding is not UTF-8');
    assert.equal(checkRequestPath('/api/v2/dags/a%00b'), 'encoded control character in path');
    assert.equal(checkRequestPath('/api/v2/dags/manual__2024-01-01T00%3A00%3A00%2B00%3A00?x=%zz'), null);
    assert.equal(checkRequestPath('http://host/x'), 'the request target is not a path');
  });
});

describe('OpenAPI matcher: documents and route tables', () => {
  test('servers base paths, with variables; reported with or without them', () => {
    const doc = {
      openapi: '3.0.3',
      servers: [
        { url: 'https://api.example.com/api/v1/' },
        { url: '/{tier}', variables: { tier: { default: 'v2', enum: ['v2', 'v3'] } } },
      ],
      paths: { '/users/{id}': { get: { operationId: 'getUser' } }, '/': { get: {} } },
    };
    assert.deepEqual(serverBasePaths(doc), ['/api/v1/', '/v2', '/v3']);
    const m = RouteMatcher.fromDocument(doc);
    assert.equal(m.lookup('GET', '/api/v1/users/7')?.template, '/api/v1/users/{id}');
    assert.equal(m.lookup('GET', '/v3/users/7')?.template, '/v3/users/{id}');
    assert.equal(m.lookup('GET', '/api/v1')?.template, '/api/v1');
    assert.equal(m.lookup('GET', '/users/7'), null);
    const bare = RouteMatcher.fromDocument(doc, { includeBasePath: false });
    assert.equal(bare.lookup('GET', '/api/v1/users/7')?.template, '/users/{id}');
    assert.equal(bare.lookup('GET', '/v2/users/7'), bare.lookup('GET', '/api/v1/users/7'), 'one operation');
    assert.equal(bare.routes.length, 2);
    const custom = RouteMatcher.fromDocument(doc, { basePaths: ['/gw'] });
    assert.equal(custom.lookup('GET', '/gw/users/1')?.template, '/gw/users/{id}');
  });

  test('path item $refs, parameters inside a segment, route tables', () => {
    const doc = {
      openapi: '3.1.0',
      paths: {
        '/files/{name}.{ext}': { $ref: '#/components/pathItems/file' },
        '/files/{name}': { get: {} },
        '/files/latest.json': { get: {} },
      },
      components: { pathItems: { file: { get: {}, put: {} } } },
    };
    const m = RouteMatcher.fromDocument(doc);
    assert.deepEqual(m.match('PUT', '/files/report.2024.csv')?.params, { name: 'report', ext: '2024.csv' });
    assert.equal(m.lookup('GET', '/files/latest.json')?.template, '/files/latest.json');
    assert.equal(m.lookup('GET', '/files/report.csv')?.template, '/files/{name}.{ext}');
    assert.equal(m.lookup('GET', '/files/report')?.template, '/files/{name}');
    const t = RouteMatcher.fromRoutes(['GET /dags/:dag_id', '/health', 'POST /files/{path:path}', ['PUT', '/x/{y}']]);
    assert.equal(t.lookup('GET', '/dags/a')?.template, '/dags/{dag_id}');
    assert.equal(t.lookup('DELETE', '/health')?.template, '/health');
    assert.deepEqual(t.match('POST', '/files/a/b.txt')?.params, { path: 'a/b.txt' });
    assert.equal(t.lookup('PUT', '/x/1')?.method, 'PUT');
    assert.throws(
      () => RouteMatcher.fromRoutes(['GET dags']),
      (e: unknown) => e instanceof ApimeterError,
    );
  });

  test('unreadable or invalid documents fail with a coded error naming the file', () => {
    assert.throws(
      () => loadOpenApiDocument('/nonexistent/spec.yaml'),
      (e: unknown) =>
        e instanceof ApimeterError && e.code === 'APIMETER_ERR_CONFIG_FILE' && /spec\.yaml/.test(e.message),
    );
    assert.throws(
      () => RouteMatcher.fromDocument({ openapi: '3.1.0' }),
      (e: unknown) => e instanceof ApimeterError && e.code === 'APIMETER_ERR_CONFIG_INVALID',
    );
  });
});
