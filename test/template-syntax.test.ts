/**
 * One `:param` → `{param}` scanner for every dialect (src/routing/template-syntax.ts). Expected values
 * are what each dialect's own converter gave before they were merged into one, edge cases included
 * (bare colons, escapes, constraints, modifiers), so the merge changed no reported template.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  colonToBraces,
  express4Path,
  express5Path,
  fastifyTemplate,
  honoTemplate,
  toTemplate,
  ROUTE_TABLE_SYNTAX,
} from '../src/routing/template-syntax.js';
import { fastifyTemplate as fromFastify } from '../src/adapters/fastify.js';
import { honoTemplate as fromHono } from '../src/adapters/hono.js';
import { express4Path as fromExpress } from '../src/adapters/express.js';

const CASES: [string, (s: string) => string, [string, string][]][] = [
  [
    'fastify',
    fastifyTemplate,
    [
      ['/dags/:dag_id', '/dags/{dag_id}'],
      ['/files/:name(^\\w+\\.txt$)', '/files/{name}'],
      ['/a::b', '/a:b'],
      ['/:a-:b', '/{a}-{b}'],
      ['/x/:id.json', '/x/{id}.json'],
      ['/p/', '/p'],
      ['/a:', '/a{}'],
      ['/r/:id(\\d+)/x', '/r/{id}/x'],
    ],
  ],
  [
    'hono',
    honoTemplate,
    [
      ['/dags/:dag_id{[0-9]+}', '/dags/{dag_id}'],
      ['/u/:id?', '/u/{id}'],
      ['/f/:name.json', '/f/{name.json}'],
      ['/w/*', '/w/*'],
      ['//a//b/', '/a/b'],
      [':x', '/{x}'],
      ['/a/:b{\\}x}/c', '/a/{b}/c'],
    ],
  ],
  [
    'express 4',
    express4Path,
    [
      ['/dags/:dag_id', '/dags/{dag_id}'],
      ['/u/:id?', '/u/{id}'],
      ['/r/:id(\\d+)', '/r/{id}'],
      ['/a:', '/a:'],
      ['/x/:y*', '/x/{y}'],
      ['/p/:q+/z', '/p/{q}/z'],
      ['/t/*', '/t/*'],
    ],
  ],
  [
    'express 5',
    express5Path,
    [
      ['/dags/:dag_id', '/dags/{dag_id}'],
      ['/f/*splat', '/f/*'],
      ['/o{/:opt}', '/o/{opt}'],
      ['/q/:"quoted name"', '/q/{quoted name}'],
      ['/e/\\:lit', '/e/:lit'],
      ['/a:', '/a{}'],
      ['/é/:nom', '/é/{nom}'],
    ],
  ],
  [
    'route table',
    colonToBraces,
    [
      ['/dags/:dag_id', '/dags/{dag_id}'],
      ['/a/{b}/:c', '/a/{b}/{c}'],
      ['/{x:path}', '/{x:path}'],
      ['/a:', '/a:'],
      ['/n/:123', '/n/:123'],
      ['/s}/:a', '/s}/:a'],
      ['/$:$x', '/${$x}'],
    ],
  ],
];

for (const [dialect, convert, cases] of CASES) {
  test(`${dialect} route syntax as templates`, () => {
    for (const [input, expected] of cases) assert.equal(convert(input), expected, input);
  });
}

test('the adapters report templates with the shared converter', () => {
  assert.equal(fromFastify, fastifyTemplate);
  assert.equal(fromHono, honoTemplate);
  assert.equal(fromExpress, express4Path);
  assert.equal(toTemplate('/a/:b', ROUTE_TABLE_SYNTAX), '/a/{b}');
});
