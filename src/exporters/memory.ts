import type { StatsdTransport } from './statsd-transport.js';

/**
 * A StatsD transport that keeps datagrams in memory: the test double of the StatsD exporters. It can
 * also play a broken network: refuse to open, fail every send, or hold sends forever (a full buffer).
 *
 * @example
 * const memory = new MemoryTransport();
 * const statsd = createStatsdExporter(meter, { transport: memory, flushIntervalMs: 0 });
 * await statsd.flush();
 * memory.lines(); // ['apimeter.api.request.count.users_id.GET.2xx:3|c', …]
 */
export class MemoryTransport implements StatsdTransport {
  readonly target = 'memory';
  /** Every datagram sent, as text. */
  readonly datagrams: string[] = [];
  /** When set, open() rejects with it (a host that does not resolve). */
  openError: Error | null = null;
  /** When set, every send fails with it. */
  sendError: Error | null = null;
  /** When true, sends are accepted but never complete (until releaseHeld()): the buffer fills up. */
  hold = false;
  /** Datagrams held (not yet completed) while `hold` is on. */
  readonly held: { datagram: string; done: (error: Error | null) => void }[] = [];
  opened = 0;
  closed = false;

  async open(): Promise<void> {
    this.opened++;
    if (this.openError !== null) throw this.openError;
  }

  send(datagram: Buffer, done: (error: Error | null) => void): void {
    const text = datagram.toString('latin1');
    if (this.hold) {
      this.held.push({ datagram: text, done });
      return;
    }
    const error = this.sendError;
    if (error === null) this.datagrams.push(text);
    queueMicrotask(() => done(error));
  }

  /** Completes every held send (as sent) and stops holding. */
  releaseHeld(): void {
    this.hold = false;
    for (const { datagram, done } of this.held.splice(0)) {
      this.datagrams.push(datagram);
      done(null);
    }
  }

  /** Every line of every datagram, in order. */
  lines(): string[] {
    return this.datagrams.flatMap((d) => d.split('\n'));
  }

  clear(): void {
    this.datagrams.length = 0;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
