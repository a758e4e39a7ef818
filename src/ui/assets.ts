import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** One file of the web page, read once and kept with its gzip form and ETag. */
export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
}

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** Served to anyone: what the login page needs. Every other asset needs access. */
export const PUBLIC_ASSETS: ReadonlySet<string> = new Set(['style.css', 'login.js']);

/** The page's own files (in `assets/` beside this module, copied to dist/ by the build). */
const OWN = [
  'style.css',
  'login.js',
  'app.js',
  'dom.js',
  'client.js',
  'charts.js',
  'overview.js',
  'endpoints.js',
  'endpoint.js',
  'alerts.js',
  'inventory.js',
  'consumers.js',
];

function asset(name: string, body: Buffer): Asset {
  const ext = name.slice(name.lastIndexOf('.') + 1);
  return {
    type: TYPES[ext] ?? 'application/octet-stream',
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

/**
 * Reads every asset: the page's files and uPlot's minified build and stylesheet (from the `uplot`
 * package). Synchronous and once, on the first request for the page: a few files of some kB.
 */
export function loadAssets(): ReadonlyMap<string, Asset> {
  const dir = fileURLToPath(new URL('./assets/', import.meta.url));
  const require = createRequire(import.meta.url);
  const files = new Map<string, Asset>();
  for (const name of OWN) files.set(name, asset(name, readFileSync(dir + name)));
  files.set('uplot.js', asset('uplot.js', readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'))));
  files.set('uplot.css', asset('uplot.css', readFileSync(require.resolve('uplot/dist/uPlot.min.css'))));
  return files;
}
