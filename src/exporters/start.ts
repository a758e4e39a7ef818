import type { Meter } from '../core/meter.js';
import { createStats } from '../core/stats.js';
import type { Stats, StatsOptions } from '../core/stats.js';
import type { StatsBackend } from '../core/stats-backends.js';
import { createStatsdExporter } from './statsd.js';
import type { StatsdExporter, StatsdExporterOptions } from './statsd.js';
import type { ComponentHealth } from '../core/health.js';
// Type only, used inside startExporters: the declarations of this module do not mention the OTel packages.
import type * as OtelModule from './otel.js';
import { missingDependency, OTEL_PACKAGES } from './optional-deps.js';
import { otelOffReason } from './otel-env.js';

export interface StartExportersOptions {
  /** Options of the returned Stats facade; its allow/block lists default to metrics_allow_list/metrics_block_list. */
  stats?: Omit<StatsOptions, 'backends'>;
  /** Overrides for the StatsD/DogStatsD exporter (started when `statsd_on`). */
  statsd?: Partial<StatsdExporterOptions>;
  /**
   * Overrides for the OpenTelemetry exporter (started when `otel_on`): `OtelExporterOptions` of
   * `apimeter/otel` (`otel: { intervalMs: 5000 } satisfies OtelExporterOptions`). Typed loosely here so
   * the package root's declarations do not need the OpenTelemetry packages (optional peers).
   */
  otel?: object;
  /** More backends for the Stats facade. */
  backends?: readonly StatsBackend[];
}

/** What the package root says of `apimeter/otel`'s `OtelExporter`, without its OpenTelemetry types. */
export interface OtelExporterHandle {
  /** The Stats facade's backend that records into the OpenTelemetry meter. */
  readonly stats: StatsBackend;
  forceFlush(): Promise<void>;
  health(): ComponentHealth;
  close(): Promise<void>;
}

export interface Exporters {
  /** Airflow's `Stats` for application code: sends through every exporter started here. */
  readonly stats: Stats;
  readonly statsd: StatsdExporter | null;
  /** The OpenTelemetry exporter (`OtelExporter` of `apimeter/otel`), when `otel_on`. */
  readonly otel: OtelExporterHandle | null;
  /** Flushes what is pending and stops every exporter. Never rejects. */
  close(): Promise<void>;
}

/**
 * Starts the exporters `meter.config` turns on — StatsD or DogStatsD (`statsd_on`) and OpenTelemetry
 * (`otel_on`), several at once — and returns a Stats facade wired to them. With nothing on, the facade
 * checks and drops. The OpenTelemetry packages are loaded only when `otel_on` is set; when they are not
 * installed it rejects with APIMETER_ERR_MISSING_DEPENDENCY, naming them and the `npm install` line.
 *
 * @example
 * const meter = createMeter(); // apimeter.ini: [metrics] statsd_on = True
 * const exporters = await startExporters(meter);
 * exporters.stats.incr('jobs.started', 1, 1, { queue: 'default' });
 * closeOnSignal(server, exporters); // SIGTERM/SIGINT: server first, then the exporters' last flush
 */
export async function startExporters(meter: Meter, options: StartExportersOptions = {}): Promise<Exporters> {
  const config = meter.config;
  const statsd = config.statsdOn ? createStatsdExporter(meter, options.statsd) : null;
  let otel: OtelExporterHandle | null = null;
  // OTEL_SDK_DISABLED=true or OTEL_METRICS_EXPORTER=none turn apimeter's own OpenTelemetry pipeline off too.
  const otelOptions = options.otel as
    | { exporter?: unknown; env?: Record<string, string | undefined>; onStateChange?: (message: string) => void }
    | undefined;
  const otelOff =
    config.otelOn && otelOptions?.exporter === undefined ? otelOffReason(otelOptions?.env ?? process.env) : null;
  if (otelOff !== null)
    (otelOptions?.onStateChange ?? console.warn)(`apimeter: otel_on is set, but ${otelOff}: no OpenTelemetry export`);
  if (config.otelOn && otelOff === null) {
    try {
      // A specifier bundlers do not follow: an app bundled without the OpenTelemetry packages (an edge
      // bundle of `apimeter` + `apimeter/hono`) still builds. A bundled app that wants OTel imports
      // `apimeter/otel` itself (docs/exporters.md).
      const otelModule = './otel.js';
      const { startOtelExporter } = (await import(otelModule)) as typeof OtelModule;
      otel = await startOtelExporter(meter, options.otel);
    } catch (error) {
      await statsd?.close();
      throw missingDependency(error, 'otel_on', OTEL_PACKAGES) ?? error;
    }
  }
  const backends: StatsBackend[] = [...(options.backends ?? [])];
  if (statsd !== null) backends.push(statsd);
  if (otel !== null) backends.push(otel.stats);
  const stats = createStats({
    allowList: config.metricsAllowList,
    blockList: config.metricsBlockList,
    ...options.stats,
    backends,
  });
  let closing: Promise<void> | null = null;
  return {
    stats,
    statsd,
    otel,
    close() {
      closing ??= (async () => {
        await stats.close().catch(() => undefined);
        await statsd?.close().catch(() => undefined);
        await otel?.close().catch(() => undefined);
      })();
      return closing;
    },
  };
}
