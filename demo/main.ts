import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { createMeter, startAlerts, storeAlertState } from '../src/index.js';
import type { AlertEvent, Alerts, Meter, MeterOptions, Notifier } from '../src/index.js';
import { startPersistence } from '../src/store/persistence.js';
import type { Persistence } from '../src/store/persistence.js';
import { buildApp, METRICS_PREFIX, PROMETHEUS_PATH } from './app.js';
import { DemoDb } from './db.js';
import { formatReport } from './report.js';
import { startTraffic } from './traffic.js';
import type { TrafficGenerator } from './traffic.js';

export interface DemoOptions {
  /** 0 picks a free port. Default 8080. */
  port?: number;
  host?: string;
  /** SQLite file (created with its directory) or `:memory:`. Default `./data/demo.db`. */
  db?: string;
  traffic?: boolean;
  /** Requests per second of the traffic generator. Default 50. */
  rate?: number;
  /** Seconds between console reports; 0 disables them. Default 10. */
  reportEvery?: number;
  /** Scales the artificial per-route delays; 0 turns them off. Default 1. */
  latencyScale?: number;
  /** Share of task-instance listings that throw. Default 0.03. */
  faultRate?: number;
  /** Extra meter options (the metrics API and `/metrics` are always excluded from measurement). */
  meter?: MeterOptions;
  /** Where reports and traffic errors go. Default `console.log`. */
  log?: (line: string) => void;
  /**
   * Keep history in SQLite (`<db dir>/apimeter.db`, or `[metrics] api_metrics_store_url`) even when
   * `[metrics] api_metrics_persistence` is off. Default true.
   */
  history?: boolean;
  /** Alert rules and SLOs; default `[alerts] rules_file`, else demo/alerts.yaml. */
  rulesFile?: string;
  /** Notifiers besides the console's (e.g. createNotifiers of a `notifiers:` list). */
  notifiers?: readonly Notifier[];
  /** Induce incidents from the traffic generator (a 5xx burst and a latency regression). */
  incident?: { afterSeconds: number; seconds: number; everySeconds?: number };
}

/** The demo's rules file, shipped beside this file. */
export const DEMO_RULES = join(dirname(fileURLToPath(import.meta.url)), 'alerts.yaml');

/** Prints each alert transition once (notifiers also receive still-firing instances, for re-sending). */
function consoleNotifier(log: (line: string) => void): Notifier {
  const last = new Map<string, string>();
  return {
    name: 'console',
    async notify(events: readonly AlertEvent[]) {
      for (const e of events) {
        const key = `${e.rule}\u0000${e.endpoint}`;
        if (last.get(key) === e.state) continue;
        last.set(key, e.state);
        const text = e.annotations.summary ?? `${e.endpoint} ${e.value}`;
        log(`alert ${e.state.toUpperCase()} [${e.severity}] ${e.rule}: ${text}`);
      }
    },
    health: () => ({ state: 'ok', lastError: null, pending: 0 }),
    async close() {},
  };
}

export interface RunningDemo {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Base URL of the metrics REST API, e.g. `http://127.0.0.1:8080/api/v2/metrics`. */
  metricsUrl: string;
  /** Bearer token of the metrics API: `[api] metrics_api_token` if configured, else generated at start. */
  token: string;
  /** Where the token came from: a configured secret is never printed. */
  tokenSource: 'generated' | 'config';
  dbPath: string;
  meter: Meter;
  /** Snapshots to the store (on by default in the demo); null with `history: false`. */
  persistence: Persistence | null;
  /** Alert rules and SLOs evaluated in process. */
  alerts: Alerts;
  app: FastifyInstance;
  traffic: TrafficGenerator | null;
  /** Stops traffic and reports, closes the server, then the database. Safe to call twice. */
  close(): Promise<void>;
}

export const DEFAULTS = { port: 8080, host: '127.0.0.1', db: './data/demo.db', rate: 50, reportEvery: 10 } as const;

/** Starts the demo API (and optionally its traffic generator and console reports) in this process. */
export async function startDemo(opts: DemoOptions = {}): Promise<RunningDemo> {
  const log = opts.log ?? console.log;
  const dbPath = opts.db ?? DEFAULTS.db;
  const meter = createMeter({
    // Consumers: X-Client-Id, else a bearer JWT's sub (hashed with this demo-only secret).
    metricsConsumers: true,
    metricsConsumerHeader: 'x-client-id',
    metricsConsumerJwt: true,
    metricsConsumerSecret: 'apimeter-demo-consumer-secret',
    metricsConsumerGroups: ['web-frontend=internal', 'scheduler-bot=internal', 'partner-acme=partners'],
    ...opts.meter,
    metricsExcludedEndpoints: [METRICS_PREFIX, PROMETHEUS_PATH, ...asList(opts.meter?.metricsExcludedEndpoints)],
  });
  const token = meter.config.metricsApiToken || randomBytes(18).toString('base64url');
  // The demo's own shutdown (below) closes it: its final snapshot runs before the process exits.
  const storeUrl =
    meter.config.apiMetricsStoreUrl ||
    `sqlite:${dbPath === ':memory:' ? ':memory:' : join(dirname(dbPath), 'apimeter.db')}`;
  const persistence = await startPersistence(meter, {
    handleSignals: false,
    enabled: (opts.history ?? true) || meter.config.apiMetricsPersistence,
    url: storeUrl,
  });
  let alerts: Alerts;
  try {
    alerts = startAlerts(meter, {
      history: persistence?.history,
      rulesFile: opts.rulesFile ?? (meter.config.alertsRulesFile || DEMO_RULES),
      notifiers: [consoleNotifier(log), ...(opts.notifiers ?? [])],
      // In the history store: a restart keeps firing alerts firing and pending ones' `for` progress.
      state: persistence === null ? undefined : storeAlertState(persistence.store, meter.config.alertsService),
      onError: (error) => log(`alerts: ${error instanceof Error ? error.message : String(error)}`),
    });
  } catch (error) {
    await persistence?.close();
    throw error;
  }
  const db = new DemoDb(dbPath);
  let app: FastifyInstance;
  try {
    app = await buildApp({
      db,
      meter,
      token,
      history: persistence?.history,
      latencyScale: opts.latencyScale,
      faultRate: opts.faultRate,
    });
    await app.listen({ port: opts.port ?? DEFAULTS.port, host: opts.host ?? DEFAULTS.host });
  } catch (error) {
    db.close();
    await alerts.close();
    await persistence?.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (opts.port ?? DEFAULTS.port);
  const host = opts.host ?? DEFAULTS.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let lastTrafficError = 0;
  const traffic = opts.traffic
    ? startTraffic({
        baseUrl: url,
        rate: opts.rate ?? DEFAULTS.rate,
        incident: opts.incident,
        onError(error) {
          // At most one line every 5 s: a dead server must not flood the console.
          if (Date.now() - lastTrafficError < 5000) return;
          lastTrafficError = Date.now();
          log(`traffic: request failed: ${error instanceof Error ? error.message : String(error)}`);
        },
      })
    : null;

  const every = opts.reportEvery ?? DEFAULTS.reportEvery;
  const reporter =
    every > 0
      ? setInterval(() => log('\n' + formatReport(meter.summary('1m'), meter.snapshot('1m'))), every * 1000)
      : null;

  let closing: Promise<void> | null = null;
  return {
    url,
    metricsUrl: url + METRICS_PREFIX,
    token,
    tokenSource: meter.config.metricsApiToken === '' ? 'generated' : 'config',
    dbPath,
    meter,
    persistence,
    alerts,
    app,
    traffic,
    close() {
      closing ??= (async () => {
        if (reporter) clearInterval(reporter);
        try {
          await traffic?.stop();
          await app.close();
        } finally {
          db.close();
          await alerts.close();
          await persistence?.close();
        }
      })();
      return closing;
    },
  };
}

function asList(v: readonly string[] | string | undefined): string[] {
  if (v === undefined) return [];
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()) : [...v];
}

const USAGE = `Usage: npm start -- [options]      (or: npx tsx demo/main.ts [options])

Runs an Airflow-shaped demo API on Fastify + SQLite, measured by apimeter.

Options:
  --port N            port to listen on (default ${DEFAULTS.port}, or $PORT; 0 picks a free one)
  --host HOST         address to bind (default ${DEFAULTS.host})
  --db PATH           SQLite file, created and seeded if missing, or :memory: (default ${DEFAULTS.db})
  --traffic           send generated traffic to the API (npm start turns it on)
  --rate N            generated requests per second (default ${DEFAULTS.rate})
  --report-every S    seconds between console tables of the top endpoints; 0 disables (default ${DEFAULTS.reportEvery})
  --incident          with --traffic: induce a 2-minute incident (5xx burst, latency regression) one
                      minute after start and every 10 minutes, so alerts fire and resolve
  --no-history        keep no history (by default the demo snapshots to <db dir>/apimeter.db)
  -h, --help          show this help`;

class UsageError extends Error {}

function numberFlag(name: string, raw: string, min: number, max: number, integer: boolean): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got "${raw}")`,
    );
  }
  return n;
}

/** Parses the command line; returns null when help was asked for. Throws UsageError on bad input. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): DemoOptions | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        db: { type: 'string' },
        traffic: { type: 'boolean' },
        rate: { type: 'string' },
        'report-every': { type: 'string' },
        incident: { type: 'boolean' },
        'no-history': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new UsageError(`unknown option ${/'[^']*'/.exec(message)?.[0] ?? message} (see --help)`);
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new UsageError(`unexpected argument ${/'[^']*'/.exec(message)?.[0] ?? message} (see --help)`);
    }
    throw new UsageError(message.split('\n')[0]);
  }
  if (values.help) return null;
  const port = values.port ?? env.PORT;
  return {
    port: port === undefined ? DEFAULTS.port : numberFlag('port', port, 0, 65535, true),
    host: values.host ?? DEFAULTS.host,
    db: values.db ?? DEFAULTS.db,
    traffic: values.traffic ?? false,
    rate: values.rate === undefined ? DEFAULTS.rate : numberFlag('rate', values.rate, 0.1, 100_000, false),
    reportEvery:
      values['report-every'] === undefined
        ? DEFAULTS.reportEvery
        : numberFlag('report-every', values['report-every'], 0, 86_400, false),
    ...(values.incident ? { incident: { afterSeconds: 60, seconds: 120, everySeconds: 600 } } : {}),
    ...(values['no-history'] ? { history: false } : {}),
  };
}

function banner(demo: RunningDemo, opts: DemoOptions): string {
  const traffic = opts.traffic
    ? `on, ${opts.rate} req/s from the built-in generator`
    : 'off (add --traffic, or send your own requests)';
  // A configured token is a secret (never logged); a generated one is printed so it can be used.
  const generated = demo.tokenSource === 'generated';
  const shownToken = generated ? demo.token : '(from [api] metrics_api_token, not shown)';
  const curlToken = generated ? demo.token : '$APIMETER_TOKEN';
  const report = opts.reportEvery ? `every ${opts.reportEvery} s, top endpoints over the last minute` : 'off';
  return [
    'apimeter demo: an Airflow-shaped API on Fastify + SQLite, measured by apimeter',
    `  API         ${demo.url}/api/v2/dags`,
    `  metrics API ${demo.metricsUrl}/summary  (also /endpoints, /endpoints/{endpoint}, /inventory, /health, /openapi.json)`,
    `  web page    ${demo.metricsUrl}/ui  (sign in with the token)`,
    `  token       ${shownToken}`,
    `  try         curl -H "Authorization: Bearer ${curlToken}" '${demo.metricsUrl}/endpoints?window=5m&limit=5'`,
    `  Prometheus  ${demo.url}${PROMETHEUS_PATH}  (open, no token)`,
    `  database    ${demo.dbPath}`,
    `  history     ${
      demo.persistence === null
        ? 'off (--no-history)'
        : `snapshots to ${demo.persistence.store.kind} every ${demo.persistence.task.bucketMs / 1000} s (6h … 30d windows, SLO periods)`
    }`,
    `  alerts      ${demo.alerts.rules.rules.length} rules, ${demo.alerts.rules.slos.length} SLOs: ${demo.metricsUrl}/alerts, ${demo.metricsUrl}/slo${
      opts.incident ? '; an incident starts in 60 s' : ''
    }`,
    `  traffic     ${traffic}`,
    `  report      ${report}`,
    'Press Ctrl+C to stop.',
  ].join('\n');
}

async function main(): Promise<void> {
  let opts: DemoOptions | null;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`demo: ${error.message}`);
    process.exit(2);
  }
  if (opts === null) {
    console.log(USAGE);
    return;
  }
  let demo: RunningDemo;
  try {
    demo = await startDemo(opts);
  } catch (error) {
    const e = error as Error & { code?: string; problems?: readonly string[] };
    const where = e.code === 'EADDRINUSE' ? ` (${opts.host}:${opts.port} is in use; try --port)` : '';
    console.error(`demo: cannot start: ${e.message}${where}`);
    for (const p of e.problems ?? []) console.error(`  ${p}`);
    process.exit(1);
  }
  console.log(banner(demo, opts));

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      console.error(`demo: ${signal} again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: stopping traffic, closing server and database…`);
    demo.close().then(
      () => {
        console.log('demo: stopped');
        process.exitCode = 0;
        // Everything is closed; if some handle still lingers, do not hang the terminal.
        setTimeout(() => process.exit(0), 2000).unref();
      },
      (error: unknown) => {
        console.error('demo: error while stopping:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  main().catch((error: unknown) => {
    console.error('demo: unexpected error:', error);
    process.exit(1);
  });
}
