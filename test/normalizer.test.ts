import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySegment, Normalizer } from '../src/routing/normalizer.js';
import { rng } from './helpers/datasets.js';

test('ids, uuids, hashes, dates, timestamps, run ids, e-mails and tokens become placeholders', () => {
  const n = new Normalizer();
  const cases: [string, string][] = [
    ['/users/42', '/users/{id}'],
    ['/users/-1/orders/007', '/users/{id}/orders/{id}'],
    ['/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301', '/orders/{uuid}'],
    ['/orders/3F2504E04F8911D39A0C0305E82C3301', '/orders/{uuid}'],
    ['/commits/9fceb02d0ae598e95dc970b74767f19372d61af8', '/commits/{hash}'],
    ['/blobs/d41d8cd98f00b204e9800998ecf8427e', '/blobs/{uuid}'],
    ['/builds/a1b2c3d', '/builds/{hash}'],
    ['/reports/2024-01-31', '/reports/{date}'],
    ['/events/2024-01-31T10:15:00Z', '/events/{datetime}'],
    ['/events/2024-01-31T10:15:00.123%2B01:00', '/events/{datetime}'],
    ['/since/1704067200', '/since/{timestamp}'],
    ['/since/1704067200123', '/since/{timestamp}'],
    ['/dags/etl/dagRuns/manual__2024-01-01T00:00:00+00:00', '/dags/etl/dagRuns/{run_id}'],
    ['/dags/etl/dagRuns/manual__2024-01-01T00%3A00%3A00%2B00%3A00', '/dags/etl/dagRuns/{run_id}'],
    ['/dags/etl/dagRuns/scheduled__2024-06-30T12:00:00.999999+00:00', '/dags/etl/dagRuns/{run_id}'],
    ['/users/ada.lovelace%40example.org/keys', '/users/{email}/keys'],
    ['/users/ada@example.org', '/users/{email}'],
    ['/share/xK9fQ2mZ7pL4vB8nR3tW', '/share/{token}'],
    ['/share/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0', '/share/{token}'],
    [`/blob/${'a'.repeat(80)}`, '/blob/{token}'],
  ];
  for (const [path, want] of cases) assert.equal(n.normalize(path), want, path);
});

test('words stay: route literals, versions, readable ids', () => {
  const n = new Normalizer();
  for (const path of [
    '/api/v2/dags/example_bash_operator/dagRuns',
    '/api/v2/taskInstances/listMapped',
    '/api/v2/dagStats',
    '/health',
    '/api/v1/customerAccounts/settings',
    '/facade/added/decade',
    '/v2/deadbeef',
  ]) {
    assert.equal(n.normalize(path), path, path);
  }
  assert.equal(n.normalize('/'), '/');
  assert.equal(n.normalize('/a//b/?x=1#frag'), '/a/b');
  assert.equal(classifySegment('2fa'), null);
  assert.equal(classifySegment('v2'), null);
});

test('user rules come first, by segment or over the whole path', () => {
  const n = new Normalizer({
    rules: [
      { pattern: /^v\d+$/, placeholder: '{version}' },
      { pattern: /^[a-z]+_[a-z_]+$/, placeholder: '{dag_id}' },
      { pattern: /^\/files\/.+$/, placeholder: '/files/{path}', scope: 'path' },
      { pattern: /^42$/, placeholder: '{answer}' },
    ],
  });
  assert.equal(n.normalize('/api/v2/dags/example_bash_operator/runs/7'), '/api/{version}/dags/{dag_id}/runs/{id}');
  assert.equal(n.normalize('/files/a/b/c.txt'), '/files/{path}');
  assert.equal(n.normalize('/x/42'), '/x/{answer}');
  const only = new Normalizer({ builtins: false, rules: [{ pattern: /^\d+$/, placeholder: ':n' }] });
  assert.equal(
    only.normalize('/a/1/3f2504e0-4f89-11d3-9a0c-0305e82c3301'),
    '/a/:n/3f2504e0-4f89-11d3-9a0c-0305e82c3301',
  );
  assert.throws(
    () => new Normalizer({ rules: [{ pattern: 'x' as unknown as RegExp, placeholder: '{x}' }] }),
    TypeError,
  );
});

test('bounded: at most maxTemplates templates, each at most maxLength; hostile input cannot forge structure', () => {
  const n = new Normalizer({ maxTemplates: 50, maxLength: 64 });
  const random = rng(7);
  const words = () => Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');
  const templates = new Set<string | null>();
  for (let i = 0; i < 10_000; i++) templates.add(n.normalize(`/${words()}/${i}`));
  assert.equal(n.size, 50);
  assert.ok(templates.has(null));
  assert.equal(templates.size, 51);
  assert.equal(n.normalize(`/${'abc/'.repeat(40)}`), null, 'too long');
  assert.equal(n.normalize('no-slash'), null);
  const fresh = new Normalizer();
  assert.equal(fresh.normalize('/a%2Fb/c'), '/a%2Fb/c', 'an encoded slash stays encoded');
  assert.equal(fresh.normalize('/%7Bid%7D'), '/%7Bid%7D', 'encoded braces cannot pose as a placeholder');
  assert.equal(fresh.normalize('/bad%E0%A4%A'), '/{invalid}');
});

test('templateIndex numbers templates in order of first appearance, -1 past the cap', () => {
  const n = new Normalizer({ maxTemplates: 2 });
  assert.equal(n.templateIndex('/users/1'), 0);
  assert.equal(n.templateIndex('/orders/2?x=1'), 1);
  assert.equal(n.templateIndex('/users/99'), 0);
  assert.equal(n.templateIndex('/third/3'), -1);
  assert.equal(n.templateIndex('no-slash'), -1);
  assert.equal(n.templateAt(0), '/users/{id}');
  assert.equal(n.templateAt(1), '/orders/{id}');
  assert.equal(n.normalize('/orders/5'), '/orders/{id}');
  assert.equal(n.normalize('/third/3'), null);
  assert.equal(n.size, 2);
});
