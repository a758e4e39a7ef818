import type { AlertEvent, Notifier } from '../types.js';
import { iso } from './format.js';
import { HttpDelivery, type DeliveryOptions, type DeliveryStats } from './http-delivery.js';
import { errorText } from './http-helpers.js';
import { ResendFilter } from './resend.js';

/** Version of the webhook body; bumped when a field changes meaning or goes away. */
export const WEBHOOK_BODY_VERSION = 1;

/** One event in the webhook body: the AlertEvent with times as ISO 8601 strings. */
export interface WebhookEvent {
  rule: string;
  endpoint: string;
  state: 'firing' | 'resolved';
  severity: 'page' | 'ticket' | 'info';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** null when not finite. */
  value: number | null;
  threshold: number | null;
  /** null only for an invalid date. */
  startsAt: string | null;
  /** null while firing. */
  endsAt: string | null;
}

/** What the webhook notifier POSTs: `{ "version": 1, "events": [...] }`. */
export interface WebhookBody {
  version: typeof WEBHOOK_BODY_VERSION;
  events: WebhookEvent[];
}

export interface WebhookNotifierOptions extends DeliveryOptions {
  /** Default `webhook`. */
  name?: string;
  /** Re-send a still-firing instance after this many ms; 0 = transitions only. Default 4 h. */
  repeatIntervalMs?: number;
  /** Milliseconds; default Date.now. */
  now?: () => number;
}

/**
 * POSTs alert transitions as JSON ({@link WebhookBody}), one body per evaluation that changed
 * something, with retries (see {@link HttpDelivery}). Still-firing instances are re-sent every
 * `repeatIntervalMs`.
 *
 * @example
 * const hook = new WebhookNotifier({ url: 'https://ops.example.com/alerts', headers: { authorization: 'Bearer …' } });
 * await hook.notify(events); // resolves when delivered or given up
 */
export class WebhookNotifier implements Notifier {
  readonly name: string;
  private readonly delivery: HttpDelivery;
  private readonly filter: ResendFilter;

  constructor(options: WebhookNotifierOptions) {
    this.name = options.name ?? 'webhook';
    this.delivery = new HttpDelivery(options);
    this.filter = new ResendFilter(options.repeatIntervalMs ?? 4 * 3_600_000, options.now);
  }

  notify(events: readonly AlertEvent[]): Promise<void> {
    let body: string;
    try {
      const picked = this.filter.select(events);
      if (picked.length === 0) return Promise.resolve();
      body = JSON.stringify({ version: WEBHOOK_BODY_VERSION, events: picked.map(webhookEvent) } satisfies WebhookBody);
    } catch (error) {
      this.delivery.report(`cannot format events: ${errorText(error)}`);
      return Promise.resolve();
    }
    return this.delivery.send(body);
  }

  health(): { state: 'ok' | 'failing'; lastError: string | null; pending: number } {
    return this.delivery.health();
  }

  /** Delivered, given up, dropped and retried counts. */
  get stats(): Readonly<DeliveryStats> {
    return this.delivery.stats;
  }

  close(): Promise<void> {
    return this.delivery.close();
  }
}

export function webhookEvent(event: AlertEvent): WebhookEvent {
  return {
    rule: event.rule,
    endpoint: event.endpoint,
    state: event.state,
    severity: event.severity,
    labels: { ...event.labels },
    annotations: { ...event.annotations },
    value: Number.isFinite(event.value) ? event.value : null,
    threshold: Number.isFinite(event.threshold) ? event.threshold : null,
    startsAt: iso(event.startsAt),
    endsAt: iso(event.endsAt),
  };
}
