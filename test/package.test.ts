/**
 * Package hygiene on the packed tarball (scripts/check-package.ts): a Fastify-only TypeScript project
 * with `skipLibCheck: false` compiles clean, the LICENSE ships, no source maps point at unshipped
 * sources, `engines` is what the code and the dependencies need. Needs dist/ (`npm test` builds it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkPackage } from '../scripts/check-package.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(`${root}dist/index.js`);

test(
  'the packed tarball: Fastify-only TypeScript project compiles with skipLibCheck false; LICENSE; no source maps',
  { skip: built ? false : 'dist/ is missing: run npm run build first' },
  () => {
    const { tscErrors, report } = checkPackage();
    assert.deepEqual(tscErrors, []);
    assert.equal(report.hasLicense, true);
    assert.equal(report.sourceMaps, 0);
    assert.ok(
      !('yaml' in (report.dependencies as object)) && !('undici' in (report.dependencies as object)),
      'yaml and undici are optional peers',
    );
  },
);

test('engines: require() of this ESM package needs 20.19 / 22.12; dependencies need no more', () => {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
    engines: { node: string };
    dependencies: Record<string, string>;
    license: string;
  };
  assert.equal(pkg.engines.node, '^20.19.0 || >=22.12.0');
  assert.equal(pkg.license, 'Apache-2.0');
  assert.match(readFileSync(`${root}LICENSE`, 'utf8'), /Apache License\s+Version 2\.0, January 2004/);
  // Each dependency's own engines range admits every Node version ours does (checked at the bounds).
  const bounds = [
    [20, 19, 0],
    [22, 12, 0],
    [24, 0, 0],
  ];
  for (const dep of Object.keys(pkg.dependencies)) {
    const range = (
      JSON.parse(readFileSync(`${root}node_modules/${dep}/package.json`, 'utf8')) as { engines?: { node?: string } }
    ).engines?.node;
    if (range === undefined) continue;
    for (const v of bounds) assert.ok(satisfies(v, range), `${dep} engines ${range} excludes ${v.join('.')}`);
  }
});

/** Enough of semver for engines ranges: `>=a.b.c`, `^a.b.c`, `>= a.b`, joined by `||`. */
function satisfies(v: number[], range: string): boolean {
  const cmp = (a: number[], b: number[]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  return range.split('||').some((part) => {
    const m = /^\s*(>=|\^)\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(part);
    if (!m) throw new Error(`unknown range ${part}`);
    const base = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
    if (m[1] === '>=') return cmp(v, base) >= 0;
    return v[0] === base[0] && cmp(v, base) >= 0;
  });
}
