import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { createMetricsApi, createNodeHandler } from '../../src/api/index.js';
import type { MetricsApi, MetricsApiOptions } from '../../src/api/index.js';

export interface Served {
  api: MetricsApi;
  base: string;
  close(): Promise<void>;
}

/**
 * Serves a metrics API on a loopback port through the node:http handler. The API refuses everything
 * without credentials configured; tests that are not about access get an `authorize` that admits all.
 */
export async function serveApi(options: MetricsApiOptions): Promise<Served> {
  const unconfigured =
    options.token === undefined && options.authorize === undefined && options.meter.config.metricsApiToken === '';
  const api = createMetricsApi(unconfigured ? { ...options, authorize: () => true } : options);
  const server = http.createServer(createNodeHandler(api));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    api,
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        api.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  json: T;
}

/** GET over real HTTP; JSON answers are parsed (others keep `json` undefined). */
export async function get<T = unknown>(url: string, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: res.status, headers: res.headers, text, json: (isJson ? JSON.parse(text) : undefined) as T };
}

/**
 * Validators for the components of the API's own OpenAPI document (fetched over HTTP), so tests check
 * real answers against the published schemas.
 */
export function schemaValidator(document: Record<string, unknown>): (name: string, value: unknown) => void {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/);
  const components = (document.components as { schemas: Record<string, unknown> }).schemas;
  // The same schemas under $defs (a JSON Schema keyword, so strict mode accepts the wrapper), refs rewritten.
  const defs = JSON.parse(JSON.stringify(components).replaceAll('#/components/schemas/', '#/$defs/')) as object;
  ajv.addSchema({ $id: 'urn:apimeter:openapi', $defs: defs });
  const compiled = new Map<string, ValidateFunction>();
  return (name, value) => {
    let v = compiled.get(name);
    if (v === undefined) {
      assert.ok(name in components, `no component ${name} in the OpenAPI document`);
      v = ajv.compile({ $ref: `urn:apimeter:openapi#/$defs/${name}` });
      compiled.set(name, v);
    }
    if (!v(value)) assert.fail(`${name} does not match its schema: ${ajv.errorsText(v.errors)}`);
  };
}
