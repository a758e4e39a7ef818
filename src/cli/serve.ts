import { parseArgs } from 'node:util';
import { redactUrl } from '../core/redact.js';
import { loadConfig } from '../core/config.js';
import { createError } from '../errors.js';
import { startServe } from '../fleet/serve.js';

export const SERVE_USAGE = `Usage: apimeter serve [--store postgres://…] [options]

Serves the metrics API, its web page, alert and SLO evaluation and the Prometheus exposition for a
whole fleet of instances writing to one PostgreSQL store: the last hour from their live tier
([metrics] api_metrics_live_interval), older data from their snapshots and rollups. Figures merge
every instance's sketches; add instance=ID to any route for one instance; {prefix}/instances lists
them (last write, version, lag, share of traffic). Every answer says which instances contributed
and whether one is lagging or gone.

Options:
  --store URL          postgres://… (default [metrics] api_metrics_store_url)
  --schema NAME        PostgreSQL schema of the tables (default: the connection's search_path)
  --port N             port to listen on (default 9464; 0 = any free port)
  --host HOST          address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --interval N         the instances' live interval, seconds (default api_metrics_live_interval, else 10)
  --gone-seconds N     an instance silent this long is gone (default api_metrics_fleet_gone_seconds)
  --no-alerts          do not evaluate the alert rules and SLOs
  --ini FILE           apimeter.ini to read (default ./apimeter.ini if present)
  -h, --help           show this help

Example:
  APIMETER__API__METRICS_API_TOKEN=secret apimeter serve --store postgres://127.0.0.1/metrics
  curl -H 'Authorization: Bearer secret' http://127.0.0.1:9464/api/v2/metrics/instances`;

function int(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw createError('APIMETER_ERR_CONFIG_INVALID', `--${name} = "${value}": expected an integer ≥ ${min}`);
  }
  return n;
}

/** `apimeter serve`: runs until SIGTERM / SIGINT. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      store: { type: 'string' },
      schema: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      interval: { type: 'string' },
      'gone-seconds': { type: 'string' },
      'no-alerts': { type: 'boolean', default: false },
      ini: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(SERVE_USAGE + '\n');
    return 0;
  }
  const config = loadConfig({ iniPath: values.ini });
  const url = values.store ?? config.apiMetricsStoreUrl;
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw createError(
      'APIMETER_ERR_STORE_URL',
      `apimeter serve reads a fleet's PostgreSQL store: give --store postgres://… or set [metrics] api_metrics_store_url (now ${url === '' ? 'empty' : redactUrl(url)})`,
    );
  }
  const interval = int('interval', values.interval, 1);
  if (interval !== undefined && 60 % interval !== 0) {
    throw createError('APIMETER_ERR_CONFIG_INVALID', `--interval = ${interval}: must divide 60`);
  }
  let serve;
  try {
    serve = await startServe({
      url,
      schema: values.schema,
      meter: { iniPath: values.ini },
      port: int('port', values.port, 0),
      host: values.host,
      intervalSeconds: interval,
      goneSeconds: int('gone-seconds', values['gone-seconds'], 1),
      alerts: values['no-alerts'] ? false : undefined,
      onError: (error) =>
        process.stderr.write(`apimeter serve: ${error instanceof Error ? error.message : String(error)}\n`),
    });
  } catch (error) {
    if (error instanceof Error && !('code' in error && String(error.code).startsWith('APIMETER_'))) {
      throw createError(
        'APIMETER_ERR_STORE_UNAVAILABLE',
        `cannot read the fleet from ${redactUrl(url)}: ${error.message}`,
      );
    }
    throw error;
  }
  const n = serve.mirror.records().length;
  process.stdout.write(
    `apimeter serve: ${n} instance${n === 1 ? '' : 's'} in ${redactUrl(url)}; metrics API at ${serve.url}${serve.api.options.prefix}\n`,
  );
  void serve.mirror.loaded.then(() =>
    process.stdout.write(
      `apimeter serve: read ${serve.mirror.stats.rows} live rows of the last hour` +
        (serve.mirror.lastError === undefined ? '\n' : ` (last read failed: ${serve.mirror.lastError}; retrying)\n`),
    ),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await serve.close();
  return 0;
}
