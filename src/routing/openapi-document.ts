/**
 * Reading OpenAPI 3.0/3.1 (and Swagger 2.0) documents: files (YAML or JSON) or URLs, path item `$ref`s
 * (local, and to other files beside the document), `servers` base paths and Swagger's `basePath`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as Yaml from 'yaml';
import { requireOptional } from '../core/optional-require.js';
import { redactUrl } from '../core/redact.js';
import { createError } from '../errors.js';
import { decodeSegment } from './request-target.js';

/** The parts of an OpenAPI 3.0/3.1 (or Swagger 2.0) document the matcher reads. */
export interface OpenApiDocument {
  openapi?: string;
  swagger?: string;
  /** Swagger 2.0: the path every operation is served under. */
  basePath?: string;
  servers?: { url?: string; variables?: Record<string, { default?: string; enum?: string[] }> }[];
  paths?: Record<string, Record<string, unknown> | undefined>;
  [key: string]: unknown;
}

/**
 * Reads an OpenAPI document from a YAML or JSON file. Path items that `$ref` another file (`paths.yaml#/~1dags`,
 * `dag.yaml`) are read from beside the document and put in place, so the document stands alone.
 */
export function loadOpenApiDocument(file: string): OpenApiDocument {
  const doc = readDocumentFile(file);
  inlineExternalPathItems(doc, file);
  return doc;
}

/**
 * Fetches an OpenAPI document served by the API itself (FastAPI's `/openapi.json`, a `/v3/api-docs`),
 * JSON or YAML. Fails with APIMETER_ERR_CONFIG_FILE, saying why, on a network error, a status other
 * than 2xx, no answer within `timeoutMs`, or a body that is not a document. Path items `$ref`-ing
 * other files are refused (APIMETER_ERR_OPENAPI_REF): save the documents and pass the file.
 */
export async function fetchOpenApiDocument(url: string, timeoutMs: number): Promise<OpenApiDocument> {
  const shown = redactUrl(url);
  let text: string;
  try {
    // fetch() refuses URLs with credentials: they go in an Authorization header (HTTP Basic) instead.
    const parsed = new URL(url);
    const headers: Record<string, string> = { accept: 'application/json, application/yaml;q=0.9, */*;q=0.5' };
    if (parsed.username !== '' || parsed.password !== '') {
      const user = decodeURIComponent(parsed.username);
      const pass = decodeURIComponent(parsed.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      parsed.username = '';
      parsed.password = '';
    }
    const res = await fetch(parsed, {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'follow',
    });
    text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why =
      e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw createError('APIMETER_ERR_CONFIG_FILE', `cannot fetch OpenAPI document ${shown}: ${why}`);
  }
  const doc = parseDocument(text, /\.json(?:$|[?#])/i.test(url) || text.trimStart().startsWith('{'), shown);
  for (const [key, item] of Object.entries(doc.paths ?? {})) {
    const ref = (item as { $ref?: unknown } | undefined)?.$ref;
    if (typeof ref === 'string' && !ref.startsWith('#')) {
      throw createError(
        'APIMETER_ERR_OPENAPI_REF',
        `OpenAPI document ${shown}: path ${key} refers to another document (${ref}); save the documents to files and pass the file`,
      );
    }
  }
  return doc;
}

function readDocumentFile(file: string): OpenApiDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw createError('APIMETER_ERR_CONFIG_FILE', `cannot read OpenAPI document ${file}: ${(err as Error).message}`);
  }
  return parseDocument(text, /\.json$/i.test(file), file);
}

function parseDocument(text: string, json: boolean, shown: string): OpenApiDocument {
  const parseYaml = json ? null : requireOptional<typeof Yaml>('yaml', 'a YAML OpenAPI document').parse;
  try {
    const doc: unknown = parseYaml === null ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 10_000 });
    if (doc === null || typeof doc !== 'object') throw new Error('not an object');
    return doc as OpenApiDocument;
  } catch (err) {
    throw createError('APIMETER_ERR_CONFIG_FILE', `cannot parse OpenAPI document ${shown}: ${(err as Error).message}`);
  }
}

/** Replaces each path item that `$ref`s another file with the item it points at (files read once each). */
function inlineExternalPathItems(doc: OpenApiDocument, file: string): void {
  const paths = doc.paths;
  if (paths === null || typeof paths !== 'object') return;
  const files = new Map<string, OpenApiDocument>([[path.resolve(file), doc]]);
  for (const key of Object.keys(paths)) {
    let item: unknown = paths[key];
    let from = path.resolve(file);
    for (let hops = 0; hops < 8; hops++) {
      const ref = (item as { $ref?: unknown } | null)?.$ref;
      if (typeof ref !== 'string') break;
      const hash = ref.indexOf('#');
      const target = hash === -1 ? ref : ref.slice(0, hash);
      const pointer = hash === -1 ? '' : ref.slice(hash);
      if (target === '') {
        // A local reference inside a referenced file points into that file.
        if (from === path.resolve(file)) break;
        item = resolvePointer(files.get(from)!, pointer, `${path.basename(from)}${ref}`);
        continue;
      }
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        throw createError(
          'APIMETER_ERR_OPENAPI_REF',
          `OpenAPI document ${file}: path ${key} refers to ${redactUrl(ref)}; only files beside the document are read`,
        );
      }
      from = path.resolve(path.dirname(from), decodeURIComponent(target));
      let other = files.get(from);
      if (other === undefined) files.set(from, (other = readDocumentFile(from)));
      item = pointer === '' ? other : resolvePointer(other, pointer, ref);
    }
    paths[key] = item as Record<string, unknown>;
  }
}

function resolvePointer(doc: unknown, pointer: string, ref: string): unknown {
  if (pointer === '' || pointer === '#') return doc;
  if (!pointer.startsWith('#/')) {
    throw createError('APIMETER_ERR_OPENAPI_REF', `$ref ${ref}: only JSON pointers (#/…) are supported`);
  }
  let target: unknown = doc;
  for (const key of pointer.slice(2).split('/')) {
    const k = decodeURIComponent(key).replace(/~1/g, '/').replace(/~0/g, '~');
    target = target !== null && typeof target === 'object' ? (target as Record<string, unknown>)[k] : undefined;
  }
  if (target === undefined) throw createError('APIMETER_ERR_OPENAPI_REF', `$ref ${ref} points at nothing`);
  return target;
}

/**
 * Follows local `$ref`s (`#/components/pathItems/…`), a few hops at most. A reference this document
 * cannot resolve (another file, when the document was not read from one; a pointer at nothing) throws
 * APIMETER_ERR_OPENAPI_REF rather than leaving the path unmatched.
 */
export function resolveRef(doc: OpenApiDocument, item: unknown): unknown {
  let current = item;
  for (let hops = 0; hops < 8; hops++) {
    const ref = (current as { $ref?: unknown } | null)?.$ref;
    if (typeof ref !== 'string') return current;
    if (!ref.startsWith('#')) {
      throw createError(
        'APIMETER_ERR_OPENAPI_REF',
        `path item $ref ${redactUrl(ref)} is in another document: read the document with RouteMatcher.fromFile() (files beside it are read), or inline it`,
      );
    }
    current = resolvePointer(doc, ref, ref);
  }
  return current;
}

/**
 * Path parts of `servers[].url`, server variables replaced by their default (and every enum value); for
 * Swagger 2.0, its `basePath`.
 */
export function serverBasePaths(doc: OpenApiDocument): string[] {
  // Swagger 2.0: one `basePath` (and no `servers`).
  if (typeof doc.swagger === 'string' && typeof doc.basePath === 'string') return [decodeSegment(doc.basePath)];
  const out: string[] = [];
  for (const server of Array.isArray(doc.servers) ? doc.servers : []) {
    if (typeof server?.url !== 'string') continue;
    let urls = [server.url];
    for (const [name, variable] of Object.entries(server.variables ?? {})) {
      const values = unique([variable.default ?? '', ...(variable.enum ?? [])]);
      urls = urls.flatMap((u) => (u.includes(`{${name}}`) ? values.map((v) => u.split(`{${name}}`).join(v)) : [u]));
    }
    for (const url of urls) {
      let path: string;
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
        try {
          path = new URL(url).pathname;
        } catch {
          continue;
        }
      } else path = url.startsWith('/') ? url : '/' + url;
      out.push(decodeSegment(path));
    }
  }
  return out;
}

export function trimBase(base: string): string {
  let b = base.trim();
  if (b !== '' && !b.startsWith('/')) b = '/' + b;
  while (b.endsWith('/')) b = b.slice(0, -1);
  return b;
}

export function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}
