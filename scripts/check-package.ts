/**
 * Package hygiene, measured on the packed tarball (`npm pack` of the built dist/), with no registry
 * access: `tsx scripts/check-package.ts`.
 *
 * - a Fastify-only TypeScript project (`skipLibCheck: false`) with the tarball unpacked into its
 *   node_modules and fastify, typescript, @types/node and apimeter's dependencies linked from this
 *   repository's node_modules: `tsc --noEmit` must be clean;
 * - the install footprint of a Fastify-only user: the unpacked tarball plus apimeter's dependency
 *   closure, against fastify-metrics + prom-client and theirs (bytes of the package directories as
 *   installed here, nested node_modules included once; fastify itself left out of both).
 *
 * Prints one JSON object; exits 1 when the TypeScript project does not compile.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const modules = path.join(root, 'node_modules');

function bytesOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) total += bytesOf(p);
    else total += statSync(p).size;
  }
  return total;
}

/** The dependency closure of `names` as installed in node_modules (hoisted layout). */
function closure(names: readonly string[], skip: ReadonlySet<string>): Map<string, number> {
  const seen = new Map<string, number>();
  const todo = [...names];
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (seen.has(name) || skip.has(name)) continue;
    const dir = path.join(modules, name);
    if (!existsSync(dir)) continue;
    seen.set(name, bytesOf(dir));
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    todo.push(...Object.keys(pkg.dependencies ?? {}));
  }
  return seen;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const mb = (n: number) => Math.round(n / 1e4) / 100;

export function checkPackage(): { tscErrors: string[]; report: Record<string, unknown> } {
  if (!existsSync(path.join(root, 'dist/index.js'))) throw new Error('dist/ is missing: npm run build first');
  const work = mkdtempSync(path.join(os.tmpdir(), 'apimeter-package-'));
  try {
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], {
      cwd: root,
      encoding: 'utf8',
    });
    const tarball = path.join(work, out.trim().split('\n').pop()!);
    const proj = path.join(work, 'proj');
    mkdirSync(path.join(proj, 'node_modules/@types'), { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', proj]);
    execFileSync('mv', [path.join(proj, 'package'), path.join(proj, 'node_modules/apimeter')]);
    const own = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const dep of ['fastify', 'typescript', ...Object.keys(own.dependencies)]) {
      // A scoped dependency (@valibot/to-json-schema) needs its scope directory first.
      mkdirSync(path.dirname(path.join(proj, 'node_modules', dep)), { recursive: true });
      symlinkSync(path.join(modules, dep), path.join(proj, 'node_modules', dep));
    }
    symlinkSync(path.join(modules, '@types/node'), path.join(proj, 'node_modules/@types/node'));
    writeFileSync(path.join(proj, 'package.json'), '{ "name": "fastify-user", "type": "module", "private": true }\n');
    writeFileSync(
      path.join(proj, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['app.ts'],
      }),
    );
    writeFileSync(
      path.join(proj, 'app.ts'),
      [
        "import Fastify from 'fastify';",
        "import { createMeter, startExporters } from 'apimeter';",
        "import { apimeter } from 'apimeter/fastify';",
        "import { renderPrometheus } from 'apimeter/prometheus';",
        'const meter = createMeter();',
        'const app = Fastify();',
        'await app.register(apimeter, { meter });',
        "app.get('/dags/:id', async () => ({ ok: true }));",
        'void renderPrometheus;',
        'const exporters = await startExporters(meter);',
        'await exporters.close();',
        '',
      ].join('\n'),
    );
    const tsc = spawnSync(process.execPath, [path.join(modules, 'typescript/bin/tsc'), '-p', proj], {
      encoding: 'utf8',
    });
    const tscErrors = (tsc.stdout + tsc.stderr).split('\n').filter((l) => /error TS\d+/.test(l));
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n');
    const apimeterBytes = bytesOf(path.join(proj, 'node_modules/apimeter'));
    const deps = closure(Object.keys(own.dependencies), new Set(['fastify']));
    const theirs = closure(['fastify-metrics', 'prom-client'], new Set(['fastify']));
    return {
      tscErrors,
      report: {
        tarballBytes: statSync(tarball).size,
        unpackedMB: mb(apimeterBytes),
        hasLicense: files.includes('package/LICENSE'),
        sourceMaps: files.filter((f) => f.endsWith('.map')).length,
        fastifyOnlyInstallMB: mb(apimeterBytes + sum(deps)),
        dependencies: Object.fromEntries([...deps].map(([k, v]) => [k, mb(v)])),
        fastifyMetricsPlusPromClientMB: mb(sum(theirs)),
        theirDependencies: Object.fromEntries([...theirs].map(([k, v]) => [k, mb(v)])),
      },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { tscErrors, report } = checkPackage();
  console.log(JSON.stringify({ ...report, tscErrors }, null, 2));
  process.exitCode = tscErrors.length === 0 ? 0 : 1;
}
