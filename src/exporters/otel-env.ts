/**
 * The standard OpenTelemetry SDK variables apimeter's own metrics pipeline reads (the OTLP exporters
 * read their endpoint, headers, compression and temporality variables themselves). Pure parsing: no
 * package is loaded here.
 */

/** OTLP transports, as OTEL_EXPORTER_OTLP_PROTOCOL spells them. */
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export const OTLP_PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];

/** The official exporter package of each protocol (optional peer dependencies, loaded lazily). */
export const OTLP_EXPORTER_PACKAGE: Record<OtlpProtocol, string> = {
  'http/protobuf': '@opentelemetry/exporter-metrics-otlp-proto',
  'http/json': '@opentelemetry/exporter-metrics-otlp-http',
  grpc: '@opentelemetry/exporter-metrics-otlp-grpc',
};

export interface OtelEnv {
  /** OTEL_SDK_DISABLED=true: apimeter starts no OpenTelemetry pipeline of its own. */
  sdkDisabled: boolean;
  /** OTEL_METRICS_EXPORTER, known values in order (default ['otlp']); empty with `none`. */
  exporters: ('otlp' | 'console')[];
  /** Values of OTEL_METRICS_EXPORTER apimeter does not handle here (`prometheus`: use apimeter's Prometheus exporter). */
  unsupportedExporters: string[];
  /** OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL; undefined when neither is set. */
  protocol: OtlpProtocol | undefined;
  /** A protocol variable with a value that is not one of OTLP_PROTOCOLS (then the default is used). */
  badProtocol: string | undefined;
  /** OTEL_METRIC_EXPORT_INTERVAL (ms), when a positive number. */
  intervalMs: number | undefined;
  /** OTEL_METRIC_EXPORT_TIMEOUT (ms), when a positive number. */
  exportTimeoutMs: number | undefined;
  /** OTEL_EXPORTER_OTLP_METRICS_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT (ms), when a positive number. */
  otlpTimeoutMs: number | undefined;
}

const positive = (value: string | undefined): number | undefined => {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : undefined;
};

/** Reads the variables (values trimmed; names and `none`/`otlp`/`console` case-insensitive, as the SDK does). */
export function readOtelEnv(env: Record<string, string | undefined>): OtelEnv {
  const exporters: OtelEnv['exporters'] = [];
  const unsupportedExporters: string[] = [];
  const listed = (env.OTEL_METRICS_EXPORTER ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '');
  if (listed.length === 0) exporters.push('otlp');
  else if (!listed.includes('none')) {
    for (const v of listed) {
      if (v === 'otlp' || v === 'console') {
        if (!exporters.includes(v)) exporters.push(v);
      } else unsupportedExporters.push(v);
    }
  }
  const rawProtocol = (env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || '').trim();
  const protocol = OTLP_PROTOCOLS.find((p) => p === rawProtocol.toLowerCase());
  return {
    sdkDisabled: (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true',
    exporters,
    unsupportedExporters,
    protocol,
    badProtocol: rawProtocol !== '' && protocol === undefined ? rawProtocol : undefined,
    intervalMs: positive(env.OTEL_METRIC_EXPORT_INTERVAL),
    exportTimeoutMs: positive(env.OTEL_METRIC_EXPORT_TIMEOUT),
    otlpTimeoutMs: positive(env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT || env.OTEL_EXPORTER_OTLP_TIMEOUT),
  };
}

/** Why the OpenTelemetry pipeline is off by the environment (OTEL_SDK_DISABLED, OTEL_METRICS_EXPORTER=none), or null. */
export function otelOffReason(env: Record<string, string | undefined>): string | null {
  const e = readOtelEnv(env);
  if (e.sdkDisabled) return 'OTEL_SDK_DISABLED=true';
  if (e.exporters.length === 0) return `OTEL_METRICS_EXPORTER=${env.OTEL_METRICS_EXPORTER ?? ''}`;
  return null;
}
