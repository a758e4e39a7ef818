import {
  AggregationTemporality,
  AggregationType,
  InMemoryMetricExporter,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { AggregationOption, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Meter } from '../../src/core/meter.js';
import { createOtelProducer } from '../../src/exporters/otel.js';

/** An in-memory exporter asking for exponential histograms (as `otel_exponential_histograms` readers do). */
export class ExponentialMemoryExporter extends InMemoryMetricExporter {
  selectAggregation(type: InstrumentType): AggregationOption {
    return type === InstrumentType.HISTOGRAM
      ? { type: AggregationType.EXPONENTIAL_HISTOGRAM }
      : { type: AggregationType.DEFAULT };
  }
}

/**
 * The meter's OpenTelemetry producer behind the SDK's own periodic reader (an hour's interval, so
 * only `forceFlush()` collects) and a MeterProvider: what an app's provider would run. Shut the
 * provider down when done.
 */
export function producerReader(
  m: Meter,
  exporter: InMemoryMetricExporter,
  options: Parameters<typeof createOtelProducer>[1] = {},
): { reader: PeriodicExportingMetricReader; provider: MeterProvider } {
  const producer = createOtelProducer(m, options);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    metricProducers: [producer],
    exportIntervalMillis: 3_600_000,
  });
  producer.bindReader(reader);
  return { reader, provider: new MeterProvider({ readers: [reader] }) };
}

/**
 * One collection of the meter's OpenTelemetry producer through the SDK's own reader and `exporter`
 * (default: an in-memory exporter, cumulative): what an app's MeterProvider would export once.
 */
export async function readProducerOnce(
  m: Meter,
  exporter: InMemoryMetricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  options: Parameters<typeof createOtelProducer>[1] = {},
): Promise<ResourceMetrics> {
  const { reader, provider } = producerReader(m, exporter, options);
  await reader.forceFlush();
  await provider.shutdown();
  return exporter.getMetrics()[0];
}
