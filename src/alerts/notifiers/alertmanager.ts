import type { AlertEvent, Notifier } from '../types.js';
import { iso } from './format.js';
import { HttpDelivery, type DeliveryOptions, type DeliveryStats } from './http-delivery.js';
import { errorText } from './http-helpers.js';
import { ResendFilter } from './resend.js';

export interface AlertmanagerNotifierOptions extends Omit<DeliveryOptions, 'url' | 'shownUrl'> {
  /** Default `alertmanager`. */
  name?: string;
  /** Alertmanager's base URL (`http://127.0.0.1:9093`, a path prefix allowed); alerts go to `{url}/api/v2/alerts`. */
  url: string;
  /** Re-send still-firing alerts at most this often. Default 60,000 (Prometheus's `--rules.alert.resend-delay`). */
  resendIntervalMs?: number;
  /** Sent as each alert's `generatorURL` (a link back to apimeter). Default none. */
  generatorUrl?: string;
  /** Milliseconds; default Date.now. */
  now?: () => number;
}

/** A `postableAlert` of the Alertmanager v2 API. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

/**
 * Sends alerts to a Prometheus Alertmanager through its v2 API (`POST /api/v2/alerts`), the way
 * Prometheus does: firing alerts are re-sent every `resendIntervalMs` while they fire, each with an
 * `endsAt` four intervals ahead (so Alertmanager resolves them by itself if apimeter stops sending);
 * a resolved alert is sent once with its `endsAt`. Grouping, silences, inhibition and routing are then
 * Alertmanager's.
 *
 * @example
 * const am = new AlertmanagerNotifier({ url: 'http://127.0.0.1:9093' });
 * await am.notify(events);
 */
export class AlertmanagerNotifier implements Notifier {
  readonly name: string;
  private readonly delivery: HttpDelivery;
  private readonly filter: ResendFilter;
  private readonly resendIntervalMs: number;
  private readonly generatorUrl: string | undefined;
  private readonly now: () => number;

  constructor(options: AlertmanagerNotifierOptions) {
    this.name = options.name ?? 'alertmanager';
    const url = `${options.url.replace(/\/+$/, '')}/api/v2/alerts`;
    this.delivery = new HttpDelivery({ ...options, url });
    this.resendIntervalMs = Math.max(1, options.resendIntervalMs ?? 60_000);
    this.now = options.now ?? Date.now;
    this.filter = new ResendFilter(this.resendIntervalMs, this.now);
    this.generatorUrl = options.generatorUrl;
  }

  notify(events: readonly AlertEvent[]): Promise<void> {
    let body: string;
    try {
      const picked = this.filter.select(events);
      if (picked.length === 0) return Promise.resolve();
      const now = this.now();
      body = JSON.stringify(picked.map((event) => this.postable(event, now)));
    } catch (error) {
      this.delivery.report(`cannot format events: ${errorText(error)}`);
      return Promise.resolve();
    }
    return this.delivery.send(body);
  }

  /** The v2 API's alert for one event. */
  postable(event: AlertEvent, now: number): PostableAlert {
    const endsAt =
      event.state === 'resolved'
        ? (iso(event.endsAt) ?? new Date(now).toISOString())
        : new Date(now + 4 * this.resendIntervalMs).toISOString();
    const alert: PostableAlert = {
      labels: labelSet(event.labels),
      annotations: labelSet(event.annotations),
      startsAt: iso(event.startsAt) ?? new Date(now).toISOString(),
      endsAt,
    };
    if (this.generatorUrl !== undefined) alert.generatorURL = this.generatorUrl;
    return alert;
  }

  health(): { state: 'ok' | 'failing'; lastError: string | null; pending: number } {
    return this.delivery.health();
  }

  get stats(): Readonly<DeliveryStats> {
    return this.delivery.stats;
  }

  close(): Promise<void> {
    return this.delivery.close();
  }
}

/**
 * Alertmanager rejects a whole batch for one label name outside `[a-zA-Z_][a-zA-Z0-9_]*`: other
 * characters become `_`. Empty values mean "no label" there, so they are left out.
 */
function labelSet(values: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === '' || name === '') continue;
    const clean = name.replace(/[^a-zA-Z0-9_]/g, '_');
    out[/^[0-9]/.test(clean) ? `_${clean}` : clean] = value;
  }
  return out;
}
