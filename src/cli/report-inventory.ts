import { parseArgs } from 'node:util';
import { parseDuration } from '../alerts/duration.js';
import { loadConfig } from '../core/config.js';
import { createMeter } from '../core/meter.js';
import { createMetricsApi } from '../api/api.js';
import { inventoryMarkdown } from '../api/inventory-model.js';
import type { InventoryJson } from '../api/inventory-schema.js';
import { EndpointResolver } from '../routing/endpoint-resolver.js';
import { RouteMatcher } from '../routing/openapi-matcher.js';
import { openStore } from '../store/open.js';
import { StoreHistory } from '../store/history.js';
import { bucketSecondsFor } from '../store/snapshot-task.js';
import type { CliIo } from './alerts.js';

export const INVENTORY_USAGE = `Usage: apimeter report inventory [--window 30d] [--format md|json|csv]
                                (--openapi FILE [--ini FILE] | --url URL [--token TOKEN])

Which declared endpoints were used, never called, or deprecated but still called over the window,
and which requests no declaration covers (undocumented candidates, grouped by template).

  --openapi FILE   the API's OpenAPI document (YAML or JSON): its operations, their deprecated flag
                   and operationId, against the calls the store ([metrics] api_metrics_store_url)
                   holds for the window
  --url URL        instead, ask a running metrics API (its prefix, e.g.
                   http://127.0.0.1:8080/api/v2/metrics): the routes the application declared
                   (Fastify, Express, Hono, OpenAPI) and its live and stored calls
  --token TOKEN    bearer token for --url (default [api] metrics_api_token)
  --window D       how far back, a duration such as 24h, 7d, 30d (default 30d)
  --format F       md (a table to paste into a review, default), json (the /inventory answer) or csv
  --ini FILE       apimeter.ini to read (default $APIMETER_CONFIG, else ./apimeter.ini)`;

/** `apimeter report inventory`. Resolves the exit code. */
export async function runInventoryReport(args: string[], now: number, io: CliIo): Promise<number> {
  const fail = (message: string, code = 2) => {
    io.stderr.write(`apimeter report inventory: ${message}\n`);
    return code;
  };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args,
      options: {
        window: { type: 'string', default: '30d' },
        format: { type: 'string', default: 'md' },
        openapi: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        ini: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${INVENTORY_USAGE}`);
  }
  if (values.help === true) {
    io.stdout.write(INVENTORY_USAGE + '\n');
    return 0;
  }
  const format = values.format as string;
  if (format !== 'md' && format !== 'json' && format !== 'csv') {
    return fail(`--format must be md, json or csv (got ${format})`);
  }
  const windowMs = parseDuration(values.window as string);
  if (!(windowMs > 0)) return fail(`--window must be a duration such as 7d or 30d (got ${String(values.window)})`);
  const openapi = values.openapi as string | undefined;
  const url = values.url as string | undefined;
  if ((openapi === undefined) === (url === undefined)) {
    return fail('give --openapi FILE (with the store) or --url URL (a running metrics API), one of them');
  }
  const config = loadConfig({ iniPath: values.ini as string | undefined });
  const query = `start=${new Date(now - windowMs).toISOString()}&end=${new Date(now).toISOString()}`;
  const wanted = format === 'csv' ? 'csv' : 'json';

  let status: number;
  let body: string;
  let source: string;
  if (url !== undefined) {
    const token = (values.token as string | undefined) ?? config.metricsApiToken;
    try {
      const res = await fetch(`${url.replace(/\/+$/, '')}/inventory?${query}&format=${wanted}`, {
        headers: token === '' ? {} : { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(30_000),
      });
      status = res.status;
      body = await res.text();
    } catch (error) {
      return fail(`${url}: ${(error as Error).message}`, 1);
    }
    source = url;
  } else {
    let matcher: RouteMatcher;
    try {
      matcher = RouteMatcher.fromFile(openapi!);
    } catch (error) {
      return fail(`--openapi ${openapi}: ${(error as Error).message}`);
    }
    if (config.apiMetricsStoreUrl === '') return fail('no store: set [metrics] api_metrics_store_url', 1);
    const store = await openStore(config.apiMetricsStoreUrl);
    try {
      const history = new StoreHistory(store, { stepMs: bucketSecondsFor(config.apiMetricsSnapshotInterval) * 1000 });
      await history.refresh();
      // The API in process: the document's operations declared on an empty meter, calls from the store.
      const meter = createMeter({ config, clock: { now: () => now } });
      new EndpointResolver(meter, matcher, null);
      const api = createMetricsApi({ meter, history, authorize: () => true, cacheSeconds: 0 });
      const answer = await api.handle({
        method: 'GET',
        url: `${api.options.prefix}/inventory?${query}&format=${wanted}`,
        headers: {},
      });
      api.close();
      status = answer.status;
      body = typeof answer.body === 'string' ? answer.body : Buffer.from(answer.body).toString('utf8');
    } finally {
      await store.close();
    }
    source = `${store.kind} and ${openapi}`;
  }
  if (status !== 200) return fail(`the inventory answered ${status}: ${body.slice(0, 500)}`, 1);
  if (format === 'md') {
    const inv = JSON.parse(body) as InventoryJson;
    body = inventoryMarkdown(inv, `Inventory from ${source}, ${inv.range.from} to ${inv.range.to}`);
  }
  io.stdout.write(format === 'json' && !body.endsWith('\n') ? body + '\n' : body);
  return 0;
}
