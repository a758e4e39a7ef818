import type { AlertEvent } from '../types.js';

interface Sent {
  startsAt: number;
  sentAt: number;
  seenAt: number;
}

/**
 * Picks, from what the evaluator passes each tick, the events a notifier should send: every
 * transition (a new firing instance, a resolved one) and, for an instance still firing, a repeat once
 * `intervalMs` has passed since it was last sent (0 = never repeat). An instance is one rule and
 * label set; a new `startsAt` is a new firing. Instances not seen for a while (the evaluator dropped
 * them without resolving) are forgotten, so memory follows the number of firing instances.
 */
export class ResendFilter {
  private readonly sent = new Map<string, Sent>();
  private readonly staleMs: number;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.staleMs = Math.max(2 * intervalMs, 15 * 60_000);
  }

  select(events: readonly AlertEvent[]): AlertEvent[] {
    const now = this.now();
    const picked: AlertEvent[] = [];
    for (const event of events) {
      const key = instanceKey(event);
      const previous = this.sent.get(key);
      if (event.state === 'resolved') {
        this.sent.delete(key);
        picked.push(event);
        continue;
      }
      const startsAt = event.startsAt.getTime();
      if (previous !== undefined && previous.startsAt === startsAt) {
        previous.seenAt = now;
        if (this.intervalMs <= 0 || now - previous.sentAt < this.intervalMs) continue;
        previous.sentAt = now;
      } else this.sent.set(key, { startsAt, sentAt: now, seenAt: now });
      picked.push(event);
    }
    for (const [key, entry] of this.sent) if (now - entry.seenAt > this.staleMs) this.sent.delete(key);
    return picked;
  }

  /** Instances currently remembered as firing. */
  get size(): number {
    return this.sent.size;
  }
}

/** The rule and its sorted labels: one alert instance. */
export function instanceKey(event: AlertEvent): string {
  const labels = Object.keys(event.labels)
    .sort()
    .map((k) => `${k}\u0000${event.labels[k]}`);
  return `${event.rule}\u0001${event.endpoint}\u0001${labels.join('\u0001')}`;
}
