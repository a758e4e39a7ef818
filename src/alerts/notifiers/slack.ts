import type { AlertEvent, Notifier } from '../types.js';
import { formatNumber } from './format.js';
import { HttpDelivery, type DeliveryOptions, type DeliveryStats } from './http-delivery.js';
import { errorText } from './http-helpers.js';
import { ResendFilter } from './resend.js';

export interface SlackNotifierOptions extends DeliveryOptions {
  /** Default `slack`. */
  name?: string;
  /** Add Block Kit `blocks` (one section per event, with the description) beside `text`. Default false. */
  blocks?: boolean;
  /** Re-send a still-firing instance after this many ms; 0 = transitions only. Default 4 h. */
  repeatIntervalMs?: number;
  /** Milliseconds; default Date.now. */
  now?: () => number;
}

/** Slack allows 50 blocks per message; larger batches are split into several messages. */
const EVENTS_PER_MESSAGE = 50;

const EMOJI: Record<AlertEvent['severity'], string> = {
  page: ':red_circle:',
  ticket: ':large_orange_circle:',
  info: ':large_blue_circle:',
};

/**
 * Posts alert transitions to a Slack incoming webhook (or anything that takes Slack's `{ text }`:
 * Mattermost, Rocket.Chat), one line per event, through {@link HttpDelivery}. The webhook URL is a
 * secret as a whole, so errors and health show only its origin.
 *
 * @example
 * const slack = new SlackNotifier({ url: process.env.SLACK_WEBHOOK_URL! });
 * await slack.notify(events);
 * // text: ':red_circle: [FIRING] HighErrorRate GET /dags/{dag_id} — 5xx 12.5% > 5%'
 */
export class SlackNotifier implements Notifier {
  readonly name: string;
  private readonly delivery: HttpDelivery;
  private readonly filter: ResendFilter;
  private readonly blocks: boolean;

  constructor(options: SlackNotifierOptions) {
    this.name = options.name ?? 'slack';
    this.delivery = new HttpDelivery({ ...options, shownUrl: options.shownUrl ?? hidePath(options.url) });
    this.filter = new ResendFilter(options.repeatIntervalMs ?? 4 * 3_600_000, options.now);
    this.blocks = options.blocks ?? false;
  }

  async notify(events: readonly AlertEvent[]): Promise<void> {
    const bodies: string[] = [];
    try {
      const picked = this.filter.select(events);
      for (let i = 0; i < picked.length; i += EVENTS_PER_MESSAGE)
        bodies.push(JSON.stringify(slackMessage(picked.slice(i, i + EVENTS_PER_MESSAGE), this.blocks)));
    } catch (error) {
      this.delivery.report(`cannot format events: ${errorText(error)}`);
      return;
    }
    await Promise.all(bodies.map((body) => this.delivery.send(body)));
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

export interface SlackMessage {
  text: string;
  blocks?: { type: 'section'; text: { type: 'mrkdwn'; text: string } }[];
}

/** The message body for some events: `text` has one line per event. */
export function slackMessage(events: readonly AlertEvent[], withBlocks = false): SlackMessage {
  const lines = events.map(slackLine);
  if (!withBlocks) return { text: lines.join('\n') };
  const blocks = events.map((event, i) => {
    const description = event.annotations.description;
    const text = description === undefined || description === '' ? lines[i] : `${lines[i]}\n${escape(description)}`;
    return { type: 'section' as const, text: { type: 'mrkdwn' as const, text } };
  });
  return { text: lines.join('\n'), blocks };
}

/**
 * `:red_circle: [FIRING] HighErrorRate GET /dags/{dag_id} — 5xx 12.5% > 5%`: the emoji by severity
 * (green when resolved), the state, rule, endpoint and the `summary` annotation, or `value (threshold t)`
 * without one. `&`, `<`, `>` are escaped as Slack asks.
 */
export function slackLine(event: AlertEvent): string {
  const firing = event.state === 'firing';
  const emoji = firing ? EMOJI[event.severity] : ':large_green_circle:';
  const summary = event.annotations.summary;
  const detail =
    summary !== undefined && summary !== ''
      ? summary
      : `${formatNumber(event.value)} (threshold ${formatNumber(event.threshold)})`;
  return escape(`${emoji} [${firing ? 'FIRING' : 'RESOLVED'}] ${event.rule} ${event.endpoint} — ${detail}`);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `https://hooks.slack.com/***`: the path of an incoming webhook URL is its secret. */
function hidePath(url: string): string {
  try {
    return `${new URL(url).origin}/***`;
  } catch {
    return '***';
  }
}
