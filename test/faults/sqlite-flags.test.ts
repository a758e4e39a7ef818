import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { workerExecArgv } from '../../src/store/sqlite.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

test('workerExecArgv keeps the loader flags (tsx) and drops what a worker refuses', () => {
  assert.deepEqual(
    workerExecArgv([
      '--max-old-space-size=4096',
      '--import',
      'tsx',
      '--expose-gc',
      '--require=./a.cjs',
      '--stack-size=2000',
      '--loader',
      'ts-node/esm',
      '--input-type=module',
      '--title=app',
      '--enable-source-maps',
    ]),
    ['--import', 'tsx', '--require=./a.cjs', '--loader', 'ts-node/esm', '--enable-source-maps'],
  );
});

/** The sources as the published package runs them (JavaScript next to the worker's .js), without type-checking. */
function transpile(out: string): void {
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts')) {
        const js = ts.transpileModule(readFileSync(path, 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
        }).outputText;
        const target = join(out, relative(root, path)).replace(/\.ts$/, '.js');
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, js);
      }
    }
  };
  walk(join(root, 'src'));
}

test(
  'the SQLite store starts under node --max-old-space-size, --expose-gc and --stack-size',
  { timeout: 60_000 },
  async () => {
    // Inside the repository (.scratch is ignored by git) so that the worker resolves better-sqlite3.
    mkdirSync(join(root, '.scratch'), { recursive: true });
    const out = mkdtempSync(join(root, '.scratch', 'flags-'));
    try {
      transpile(out);
      const child = join(out, 'child.mjs');
      writeFileSync(
        child,
        `import { openSqliteStore } from './src/store/sqlite.js';
       import { Tally } from './src/core/tally.js';
       const store = await openSqliteStore(${JSON.stringify(join(out, 'db', 'a.db'))});
       const tally = new Tally();
       await store.writeSnapshot([{ instance: 'i', method: 'GET', route: '/r', bucketStart: 0, bucketSeconds: 60, tally }]);
       const rows = await store.readRows({ from: 0, to: 1 });
       await store.close();
       process.stdout.write('rows ' + rows.length + '\\n');`,
      );
      const { stdout } = await run(process.execPath, [
        '--max-old-space-size=4096',
        '--expose-gc',
        '--stack-size=2000',
        child,
      ]);
      assert.equal(stdout, 'rows 1\n');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
