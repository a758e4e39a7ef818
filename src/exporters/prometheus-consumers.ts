import type { Meter } from '../core/meter.js';
import type { MetricWriter } from './prometheus-text.js';

/**
 * Per-consumer families, only for the consumers `metrics_consumer_labels` allow-lists (by id, or by
 * group: then every tracked member gets its own `consumer` value). Never a consumer label otherwise.
 * Cardinality: (allow-listed consumers) × (endpoints each called) series per family. The counts are a
 * consumer's tracked requests (docs/consumers.md): they restart from 0 if the consumer ever loses its
 * top-K counter, which `rate()` reads as a counter reset.
 */
export function consumerFamilies(w: MetricWriter, meter: Meter): void {
  const consumers = meter.consumers;
  if (consumers === null || consumers.labels.size === 0) return;
  const byId = new Map(meter.registry.endpoints().map((ep) => [ep.id, ep]));
  const rows = consumers.tracker.list().filter((f) => consumers.labelled(f.id));
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const samples = (pick: 0 | 1, name: string) => {
    for (const f of rows) {
      for (const [epId, cell] of f.endpoints) {
        const ep = byId.get(epId);
        if (ep === undefined) continue;
        const labels: [string, string][] = [
          ['consumer', f.id],
          ['method', ep.method],
          ['route', ep.route],
        ];
        w.sample(name, labels, cell[pick]);
      }
    }
  };
  w.family(
    'apimeter_consumer_requests_total',
    'counter',
    'Requests of allow-listed consumers (metrics_consumer_labels), by consumer and endpoint.',
  );
  samples(0, 'apimeter_consumer_requests_total');
  w.family(
    'apimeter_consumer_errors_total',
    'counter',
    'Requests of allow-listed consumers answered >= 400 or with an error, by consumer and endpoint.',
  );
  samples(1, 'apimeter_consumer_errors_total');
}
