/** Reading OpenAPI documents: path items in other files, Swagger 2.0 `basePath`, refs that cannot be followed. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RouteMatcher } from '../src/proxy/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'apimeter-openapi-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('path items $ref-ing files beside the document are read, relative to the file that refers', () => {
  mkdirSync(path.join(dir, 'paths'), { recursive: true });
  writeFileSync(
    path.join(dir, 'main.yaml'),
    [
      'openapi: 3.1.0',
      'servers: [{ url: /api }]',
      'paths:',
      "  /dags/{dag_id}: { $ref: 'paths/dag.yaml' }",
      "  /pools: { $ref: 'paths/all.yaml#/pools' }",
      "  /pools/{pool_name}: { $ref: './paths/all.yaml#/~1pools~1%7Bpool_name%7D' }",
      '  /version: { get: {} }',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'paths/dag.yaml'), 'get: { operationId: get_dag }\npatch: {}\n');
  writeFileSync(
    path.join(dir, 'paths/all.yaml'),
    [
      'pools: { get: {}, post: {} }',
      // A local reference inside the referenced file points into that file, and on to a third one.
      "'/pools/{pool_name}': { $ref: '#/poolItem' }",
      "poolItem: { $ref: 'pool.yaml' }",
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'paths/pool.yaml'), 'delete: {}\n');
  const m = RouteMatcher.fromFile(path.join(dir, 'main.yaml'));
  const seen = m.routes.map((r) => `${r.method} ${r.template}`).sort();
  assert.deepEqual(seen, [
    'DELETE /api/pools/{pool_name}',
    'GET /api/dags/{dag_id}',
    'GET /api/pools',
    'GET /api/version',
    'PATCH /api/dags/{dag_id}',
    'POST /api/pools',
  ]);
  assert.equal(m.lookup('GET', '/api/dags/etl')?.operationId, 'get_dag');
  assert.equal(m.lookup('DELETE', '/api/pools/default_pool')?.template, '/api/pools/{pool_name}');
});

test('a missing referenced file or a pointer at nothing fails loudly', () => {
  writeFileSync(path.join(dir, 'broken.yaml'), "openapi: 3.1.0\npaths:\n  /x: { $ref: 'nowhere.yaml' }\n");
  assert.throws(() => RouteMatcher.fromFile(path.join(dir, 'broken.yaml')), {
    code: 'APIMETER_ERR_CONFIG_FILE',
    message: /nowhere\.yaml/,
  });
  writeFileSync(path.join(dir, 'dangling.yaml'), "openapi: 3.1.0\npaths:\n  /x: { $ref: 'paths/all.yaml#/nothing' }\n");
  assert.throws(() => RouteMatcher.fromFile(path.join(dir, 'dangling.yaml')), {
    code: 'APIMETER_ERR_OPENAPI_REF',
    message: /#\/nothing/,
  });
  writeFileSync(
    path.join(dir, 'remote.yaml'),
    "openapi: 3.1.0\npaths:\n  /x: { $ref: 'https://u:pw@example.com/p.yaml' }\n",
  );
  assert.throws(
    () => RouteMatcher.fromFile(path.join(dir, 'remote.yaml')),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'APIMETER_ERR_OPENAPI_REF');
      assert.doesNotMatch(err.message, /pw@/);
      return true;
    },
  );
});

test('fromDocument: an external path item $ref or a local one at nothing throws instead of dropping the path', () => {
  for (const ref of ['other.yaml#/x', '#/components/pathItems/missing']) {
    assert.throws(() => RouteMatcher.fromDocument({ openapi: '3.1.0', paths: { '/x': { $ref: ref } } }), {
      code: 'APIMETER_ERR_OPENAPI_REF',
    });
  }
  const local = RouteMatcher.fromDocument({
    openapi: '3.1.0',
    paths: { '/x': { $ref: '#/components/pathItems/x' } },
    components: { pathItems: { x: { get: {} } } },
  });
  assert.equal(local.lookup('GET', '/x')?.template, '/x');
});

test('Swagger 2.0: basePath prefixes every path', () => {
  const m = RouteMatcher.fromDocument({
    swagger: '2.0',
    basePath: '/api/v1',
    host: 'example.com',
    paths: { '/users/{id}': { get: {}, delete: {} }, '/health': { get: {} } },
  });
  assert.equal(m.lookup('GET', '/api/v1/users/42')?.template, '/api/v1/users/{id}');
  assert.equal(m.lookup('DELETE', '/api/v1/users/42')?.template, '/api/v1/users/{id}');
  assert.equal(m.lookup('GET', '/users/42'), null);
  assert.equal(
    RouteMatcher.fromDocument(
      { swagger: '2.0', basePath: '/api/v1', paths: { '/health': { get: {} } } },
      { includeBasePath: false },
    ).lookup('GET', '/api/v1/health')?.template,
    '/health',
  );
});
