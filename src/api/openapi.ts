import { readFileSync } from 'node:fs';
import { toJsonSchemaDefs } from '@valibot/to-json-schema';
import { endpointDetail } from './endpoint-detail.js';
import { health } from './health.js';
import { listEndpoints } from './list-endpoints.js';
import type { ResolvedOptions } from './options.js';
import type { ParamDef } from './params.js';
import { COMPONENTS } from './schemas.js';
import { inventory } from './inventory.js';
import { Inventory } from './inventory-schema.js';
import { summary } from './summary.js';
import { alertPaths } from './alerts.js';
import { sloDetail } from './slo.js';
import { consumerDetail, listConsumers } from './consumers.js';

type Json = Record<string, unknown>;

let components: Record<string, Json> | undefined;

/**
 * JSON Schemas of the response components, generated once from the valibot schemas: each component
 * referenced as `#/components/schemas/<name>`, objects closed (`additionalProperties: false`, as the
 * answers have exactly these fields), `T | null` as `type: [T, "null"]` where T is a bare type.
 */
export function componentSchemas(): Record<string, Json> {
  if (components !== undefined) return components;
  components = toJsonSchemaDefs(
    { ...COMPONENTS, Inventory },
    {
      // OpenAPI 3.1 components are JSON Schema 2020-12.
      target: 'draft-2020-12',
      overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
      overrideSchema: ({ valibotSchema, jsonSchema }) => {
        if (valibotSchema.type === 'object') return { ...jsonSchema, additionalProperties: false };
        const [inner, nul] = jsonSchema.anyOf ?? [];
        if (valibotSchema.type === 'nullable' && typeof inner === 'object' && typeof nul === 'object') {
          const keys = Object.keys(inner);
          if (keys.length === 1 && typeof inner.type === 'string' && nul.type === 'null')
            return { type: [inner.type, 'null'] };
        }
        return undefined;
      },
    },
  ) as unknown as Record<string, Json>;
  return components;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = (description: string) => ({ description, content: { 'application/json': { schema: ref('Problem') } } });

function parameters(params: readonly ParamDef[]): Json[] {
  return params.map((p) => ({
    name: p.name,
    in: 'query',
    required: false,
    description: p.description,
    schema: p.schema,
  }));
}

function operation(summary: string, params: readonly ParamDef[], ok: Json, extra: Record<string, Json> = {}): Json {
  return {
    summary,
    parameters: parameters(params),
    responses: {
      '200': ok,
      '400': problem('A bad query parameter; `parameter` names it'),
      '401': problem('No credentials (checked before any other answer, the 404 of an unknown path included)'),
      '403': problem('Wrong credentials'),
      ...extra,
    },
  };
}

const json = (description: string, schema: string) => ({
  description,
  content: { 'application/json': { schema: ref(schema) } },
});

/** The OpenAPI 3.1 document of one API instance (its prefix, its Prometheus path, its access rule). */
export function openApiDocument(opts: ResolvedOptions): Json {
  const p = opts.prefix;
  const protectedApi = opts.token !== '' || opts.authorize !== null;
  const paths: Record<string, Json> = {
    [`${p}/endpoints`]: {
      get: operation(
        'Every endpoint with its statistics; filtered, sorted, paginated; JSON or CSV',
        listEndpoints.params,
        {
          description: 'A page of endpoints',
          content: {
            'application/json': { schema: ref('EndpointList') },
            'text/csv': { schema: { type: 'string', description: 'header row, then one row per endpoint' } },
          },
        },
      ),
    },
    [`${p}/endpoints/{endpoint}`]: {
      get: {
        ...operation(
          'One route template in detail, with a time series',
          endpointDetail.params,
          json('The endpoint', 'EndpointDetail'),
          {
            '404': problem('No such endpoint recorded'),
          },
        ),
        parameters: [
          {
            name: 'endpoint',
            in: 'path',
            required: true,
            description:
              'The route template, URL-encoded as one segment (/dags/{dag_id} → %2Fdags%2F%7Bdag_id%7D), or the ' +
              'endpoint as listed, METHOD and route (GET /dags/{dag_id} → GET%20%2Fdags%2F%7Bdag_id%7D), which selects the method',
            schema: { type: 'string' },
          },
          ...parameters(endpointDetail.params),
        ],
      },
    },
    [`${p}/consumers`]: {
      get: operation(
        'Top consumers (metrics_consumers) with requests, error bound, errors, p95, endpoints used; JSON or CSV',
        listConsumers.params,
        {
          description: 'A page of consumers',
          content: {
            'application/json': { schema: ref('ConsumerList') },
            'text/csv': { schema: { type: 'string', description: 'header row, then one row per consumer' } },
          },
        },
        { '404': problem('Consumers are not tracked (metrics_consumers is off)') },
      ),
    },
    [`${p}/consumers/{id}`]: {
      get: {
        ...operation(
          'One consumer, with the endpoints it called',
          consumerDetail.params,
          json('The consumer', 'ConsumerDetail'),
          {
            '404': problem('Not among the tracked consumers, or consumers are not tracked'),
          },
        ),
        parameters: [
          {
            name: 'id',
            in: 'path',
            required: true,
            description: 'The consumer id as listed, URL-encoded as one segment',
            schema: { type: 'string' },
          },
          ...parameters(consumerDetail.params),
        ],
      },
    },
    [`${p}/summary`]: {
      get: operation(
        'Totals, availability, merged percentiles, top endpoints, previous period',
        summary.params,
        json('The summary', 'Summary'),
      ),
    },
    [`${p}/health`]: {
      get: operation(
        'Health against thresholds, exporters, process resources',
        health.params,
        json('Healthy or degraded', 'Health'),
        {
          '503': json('Unhealthy (when metrics_health_fail_on_unhealthy is set)', 'Health'),
        },
      ),
    },
    [`${p}/inventory`]: {
      get: operation(
        'Every declared operation: used, never called, deprecated but called; and undocumented candidates; JSON or CSV',
        inventory.params,
        {
          description: 'The inventory',
          content: {
            'application/json': { schema: ref('Inventory') },
            'text/csv': {
              schema: { type: 'string', description: 'header row, then one row per operation and candidate' },
            },
          },
        },
      ),
    },
    [`${p}/openapi.json`]: {
      get: {
        summary: 'This document',
        responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } } },
      },
    },
  };
  Object.assign(paths, alertPaths(p, sloDetail.params));
  if (opts.prometheusPath !== '') {
    paths[opts.prometheusPath] = {
      get: {
        summary: 'Prometheus exposition (text 0.0.4, or OpenMetrics 1.0 when the Accept header asks for it)',
        ...(opts.openPrometheus ? { security: [] } : {}),
        responses: {
          '200': {
            description: 'Counters, gauges and histograms of every endpoint, cumulative since start-up',
            content: {
              'text/plain': { schema: { type: 'string' } },
              'application/openmetrics-text': { schema: { type: 'string' } },
            },
          },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'apimeter metrics API',
      version: version(),
      description: 'Per-endpoint statistics of this HTTP API, measured by apimeter. Errors are JSON with a `detail`.',
    },
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    ...(protectedApi ? { security: [{ bearer: [] }] } : {}),
  };
}
