/** Reading OpenAPI 3.0/3.1 documents: files (YAML or JSON), path item `$ref`s, `servers` base paths. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { createError } from '../errors.js';
import { decodeSegment } from './request-target.js';

/** The parts of an OpenAPI 3.0/3.1 document the matcher reads. */
export interface OpenApiDocument {
  openapi?: string;
  servers?: { url?: string; variables?: Record<string, { default?: string; enum?: string[] }> }[];
  paths?: Record<string, Record<string, unknown> | undefined>;
  [key: string]: unknown;
}

/** Reads an OpenAPI document from a YAML or JSON file. */
export function loadOpenApiDocument(file: string): OpenApiDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw createError('APIMETER_ERR_CONFIG_FILE', `cannot read OpenAPI document ${file}: ${(err as Error).message}`);
  }
  try {
    const doc: unknown = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 10_000 });
    if (doc === null || typeof doc !== 'object') throw new Error('not an object');
    return doc as OpenApiDocument;
  } catch (err) {
    throw createError('APIMETER_ERR_CONFIG_FILE', `cannot parse OpenAPI document ${file}: ${(err as Error).message}`);
  }
}

/** Follows local `$ref`s (`#/components/pathItems/…`), a few hops at most. */
export function resolveRef(doc: OpenApiDocument, item: unknown): unknown {
  let current = item;
  for (let hops = 0; hops < 8; hops++) {
    const ref = (current as { $ref?: unknown } | null)?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/')) return current;
    let target: unknown = doc;
    for (const key of ref.slice(2).split('/')) {
      const k = key.replace(/~1/g, '/').replace(/~0/g, '~');
      target = target !== null && typeof target === 'object' ? (target as Record<string, unknown>)[k] : undefined;
    }
    current = target;
  }
  return current;
}

/** Path parts of `servers[].url`, server variables replaced by their default (and every enum value). */
export function serverBasePaths(doc: OpenApiDocument): string[] {
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
