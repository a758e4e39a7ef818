import type { AlertEvent, Notifier } from '../types.js';

/**
 * A notifier that keeps what it is given: the test double of the notifiers. It records every call
 * as given (transitions and still-firing instances alike, nothing filtered), and can play a broken
 * destination through `failure`.
 *
 * @example
 * const memory = new MemoryNotifier();
 * await memory.notify([event]); // what an evaluator given `memory` does after each evaluation
 * memory.events.map((e) => `${e.rule} ${e.state}`); // ['HighErrorRate firing']
 */
export class MemoryNotifier implements Notifier {
  readonly name: string;
  /** Every notify() call's events, one array per call. */
  readonly calls: (readonly AlertEvent[])[] = [];
  /** When set, health() reports it as failing (events are still recorded). */
  failure: string | null = null;
  closed = false;

  constructor(name = 'memory') {
    this.name = name;
  }

  /** Every event of every call, in order. */
  get events(): AlertEvent[] {
    return this.calls.flat();
  }

  notify(events: readonly AlertEvent[]): Promise<void> {
    this.calls.push([...events]);
    return Promise.resolve();
  }

  health(): { state: 'ok' | 'failing'; lastError: string | null; pending: number } {
    return { state: this.failure === null ? 'ok' : 'failing', lastError: this.failure, pending: 0 };
  }

  clear(): void {
    this.calls.length = 0;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
