/**
 * The layout docs/internals.md describes, checked on the source: the folders of src/ import each other
 * without a cycle (core at the bottom, then routing, the readers and the outputs), and core imports no
 * framework.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** `adapters`, `core`, … for a file under src/; `.` for src/*.ts itself. */
const folderOf = (file: string) => {
  const rel = path.relative(SRC, file);
  return rel.includes(path.sep) ? rel.split(path.sep)[0] : '.';
};

const IMPORT = /(?:^|\n)\s*(?:import|export)[^'";]*?from\s+'([^']+)'/g;

function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sources(SRC)) {
    // The public index lists every module on purpose; it is the top, not part of a layer.
    if (path.relative(SRC, file) === 'index.ts') continue;
    const from = folderOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (!m[1].startsWith('.')) continue;
      const to = folderOf(path.resolve(path.dirname(file), m[1]));
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      graph.get(from)!.set(to, `${path.relative(SRC, file)} imports ${m[1]}`);
    }
  }
  return graph;
}

test('the folders of src/ import each other without a cycle', () => {
  const graph = folderGraph();
  assert.ok((graph.get('adapters')?.size ?? 0) > 0, 'the import scan found the adapters');
  const cycles: string[] = [];
  const visit = (node: string, trail: string[]) => {
    for (const [next, why] of graph.get(node) ?? []) {
      const at = trail.indexOf(next);
      if (at !== -1) cycles.push([...trail.slice(at), next].join(' → ') + ` (${why})`);
      else visit(next, [...trail, next]);
    }
  };
  for (const start of graph.keys()) visit(start, [start]);
  assert.deepEqual(cycles, []);
});

test('adapters and the proxy share routing and outcome rules, never each other', () => {
  const graph = folderGraph();
  assert.equal(graph.get('adapters')?.get('proxy'), undefined);
  assert.equal(graph.get('proxy')?.get('adapters'), undefined);
});

test('core imports no framework and no exporter, API, store or adapter module', () => {
  const offending: string[] = [];
  for (const file of sources(path.join(SRC, 'core'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1];
      const framework = /^(fastify|express|hono|@hono\/|pg$|better-sqlite3|hot-shots)/.test(spec);
      const upward = spec.startsWith('.') && !['core', '.'].includes(folderOf(path.resolve(path.dirname(file), spec)));
      if (framework || upward) offending.push(`${path.relative(SRC, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(offending, []);
});
