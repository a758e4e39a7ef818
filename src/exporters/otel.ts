/**
 * OpenTelemetry for apimeter (`apimeter/otel`): a MetricProducer over the registry for any SDK reader,
 * and apimeter's own OTLP pipeline (or attached to the application's global MeterProvider). See docs/exporters.md.
 */
export {
  ApimeterMetricProducer,
  attachOtelProducer,
  createOtelProducer,
  detachOtelProducer,
  otelProducerOptionsFromConfig,
} from './otel-producer.js';
export type { OtelProducerOptions } from './otel-producer.js';
export { globalSdkProvider, OtelExporter, otlpEndpoint, startOtelExporter } from './otel-exporter.js';
export { otelOffReason, OTLP_EXPORTER_PACKAGE, OTLP_PROTOCOLS, readOtelEnv } from './otel-env.js';
export type { OtelEnv, OtlpProtocol } from './otel-env.js';
export { apimeterResource, processServiceInstanceId } from './otel-resource.js';
export type { OtelExporterOptions } from './otel-exporter.js';
export {
  DURATION_BOUNDARIES_S,
  SIZE_BOUNDARIES_BYTES,
  sketchSource,
  toExplicitHistogram,
  toExponentialHistogram,
} from './otel-convert.js';
export type { BucketSource } from './otel-convert.js';
export { OtelStatsBackend } from './otel-stats.js';
export { CircuitBreaker } from './circuit-breaker.js';
export type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';
