import type { ComponentHealth } from '../core/health.js';
import type { Meter } from '../core/meter.js';
import type { StatsBackend, StatsTags } from '../core/stats-backends.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { StatsdFormat } from './statsd-format.js';
import { statsdOptionsFromConfig } from './statsd-options.js';
import type { StatsdExporterOptions } from './statsd-options.js';
import { RegistryLines } from './statsd-registry.js';
import { DatagramSender } from './statsd-sender.js';
import type { SenderCounters } from './statsd-sender.js';
import { StatsAggregator } from './statsd-stats.js';
import { UdpTransport, UdsTransport } from './statsd-transport.js';
import type { StatsdTransport } from './statsd-transport.js';

export { StatsdFormat, sanitizeName, sanitizeTagKey, sanitizeTagValue, nameSegment } from './statsd-format.js';
export type { StatsdDialect } from './statsd-format.js';
export { nameFilter, statsdOptionsFromConfig } from './statsd-options.js';
export type { StatsdExporterOptions, StatsdTimerMode } from './statsd-options.js';
export { UdpTransport, UdsTransport } from './statsd-transport.js';
export type { StatsdTransport, UdpTransportOptions } from './statsd-transport.js';
export { MemoryTransport } from './memory.js';
export { CircuitBreaker } from './circuit-breaker.js';
export type { CircuitBreakerOptions, CircuitState } from './circuit-breaker.js';

/**
 * Starts a StatsD/DogStatsD exporter for `meter`: options come from `meter.config`, `overrides` win.
 * It flushes on its own timer and registers the health source `statsd` (or `dogstatsd`).
 *
 * @example
 * const meter = createMeter({ statsdOn: true, statsdHost: '127.0.0.1' });
 * const statsd = createStatsdExporter(meter);
 * const stats = createStats({ backends: [statsd] }); // app metrics ride the same datagrams
 * // at shutdown: await stats.close(); (closes the exporter too, after a last flush)
 */
export function createStatsdExporter(meter: Meter, overrides: Partial<StatsdExporterOptions> = {}): StatsdExporter {
  const exporter = new StatsdExporter(meter, { ...statsdOptionsFromConfig(meter.config), ...overrides });
  exporter.start();
  return exporter;
}

export interface FlushReport {
  /** Lines produced by this flush (sent, dropped, or failed). */
  lines: number;
  /** True when the flush did not run (circuit open, or a flush already running). */
  skipped: boolean;
  error: Error | null;
}

/**
 * Sends apimeter's registry (and, as a {@link StatsBackend}, the Stats facade's calls) to StatsD or
 * DogStatsD. It reads the registry on a flush timer — never per request — and sends what changed since
 * the last flush: counters as differences of cumulative values, the in-flight gauge as its value, and
 * latencies and sizes from the bucket-wise difference of cumulative sketches (see {@link StatsdTimerMode}).
 * Many lines share a datagram up to `maxDatagramBytes`.
 *
 * Failures never reach a request or an unhandled rejection: a host that does not resolve, a socket
 * error or a full buffer counts a failure; after `circuit.failureThreshold` failures in a row the circuit
 * opens and flushes are skipped for a cooldown. A flush skipped that way, or stopped because the host
 * does not resolve, leaves the registry baseline where it was: the next flush that runs sends those
 * counts and latencies. Datagrams a flush could not deliver (a failed send; every datagram of a flush
 * the sink refused) are kept, up to `retryBufferBytes`, and sent first by the next flush; past that
 * bound they are dropped and counted. An error that arrives between flushes belongs to earlier sends
 * and is ignored, and `close()` tries a last flush even with the circuit open.
 */
export class StatsdExporter implements StatsBackend {
  readonly options: Readonly<StatsdExporterOptions>;
  readonly format: StatsdFormat;
  readonly transport: StatsdTransport;
  readonly breaker: CircuitBreaker;
  readonly healthName: string;
  private readonly sender: DatagramSender;
  private readonly stats: StatsAggregator;
  private readonly registry: RegistryLines;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<FlushReport> | null = null;
  private closed = false;
  private unregister: (() => void) | null = null;
  private flushes = 0;
  private skippedFlushes = 0;
  private failedFlushes = 0;
  private lastFlushFailed = false;
  private lastDropped = 0;
  private droppedAtLastFlush = 0;
  private lastError: string | undefined;
  private lastErrorAt: string | undefined;
  private lastSuccessAt: string | undefined;

  constructor(
    readonly meter: Meter,
    options: StatsdExporterOptions,
  ) {
    this.options = Object.freeze({ ...options });
    this.format = new StatsdFormat(options.dialect, options.constantTags, options.disabledTags, options.containerId);
    this.transport =
      options.transport ??
      (options.udsPath !== ''
        ? new UdsTransport(options.udsPath)
        : new UdpTransport(options.host, options.port, options.dns));
    this.breaker = new CircuitBreaker(options.circuit);
    this.healthName = options.dialect === 'datadog' ? 'dogstatsd' : 'statsd';
    this.sender = new DatagramSender(
      this.transport,
      options.maxDatagramBytes,
      options.maxBufferBytes,
      options.drainTimeoutMs ?? 1000,
      options.retryBufferBytes ?? 1 << 20,
      options.retryBytesPerFlush ?? 64 * 1024,
    );
    this.stats = new StatsAggregator(
      this.format,
      options.prefix,
      options.timerMode,
      options.maxPendingSeries ?? 10_000,
      options.maxPendingValues ?? 100_000,
    );
    this.registry = new RegistryLines(meter, this.format, this.options, this.sender);
  }

  /** Starts the flush timer (unref'd) and registers the health source. Called by createStatsdExporter. */
  start(): void {
    if (this.closed || this.unregister !== null) return;
    this.unregister = this.meter.addHealthSource(this.healthName, () => this.health());
    if (this.options.flushIntervalMs > 0) {
      this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Reads the registry and the pending Stats calls and sends them. Never rejects. While a flush runs,
   * another call returns its report instead of starting a second one.
   */
  flush(): Promise<FlushReport> {
    return this.flushOnce(false);
  }

  private flushOnce(force: boolean): Promise<FlushReport> {
    if (this.running !== null) {
      this.skippedFlushes++;
      return this.running;
    }
    this.running = this.run(force)
      .catch((error: unknown): FlushReport => ({ lines: 0, skipped: false, error: error as Error }))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /**
   * Stops the timer, flushes what is pending — also while the circuit is open: this is the last
   * chance — and closes the socket, in at most `closeTimeoutMs` (default 3 s). Never rejects.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.closeTimeoutMs ?? 3000);
      timer.unref();
    });
    const last = (async () => {
      // A flush already running read the registry before now: wait for it, then send the rest.
      if (this.running !== null) await this.running;
      let report = await this.flushOnce(true);
      // The retry queue goes out a share per flush: send the rest now, with a pause for the receiver.
      while (report.error === null && this.sender.retryBacklog > 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        report = await this.flushOnce(true);
      }
    })();
    await Promise.race([last, bounded]);
    clearTimeout(timer);
    this.closed = true;
    this.unregister?.();
    this.unregister = null;
    await this.transport.close().catch(() => undefined);
  }

  // StatsBackend: the Stats facade's calls, aggregated until the next flush.
  count(name: string, value: number, rate: number, tags: StatsTags): void {
    if (!this.closed) this.stats.count(name, value, rate, tags);
  }

  gauge(name: string, value: number, rate: number, delta: boolean, tags: StatsTags): void {
    if (!this.closed) this.stats.gauge(name, value, delta, tags);
  }

  timing(name: string, ms: number, rate: number, tags: StatsTags): void {
    if (!this.closed) this.stats.timing(name, ms, rate, tags);
  }

  /** What /health shows for this exporter. */
  health(): ComponentHealth {
    const circuit = this.breaker.state;
    const c = this.sender.counters;
    let state: ComponentHealth['state'] = 'ok';
    if (this.closed) state = 'off';
    else if (circuit !== 'closed') state = 'failing';
    else if (this.lastFlushFailed || this.lastDropped > 0) state = 'degraded';
    return {
      name: this.healthName,
      state,
      circuit,
      ...(this.lastError !== undefined && { lastError: this.lastError, lastErrorAt: this.lastErrorAt }),
      ...(this.lastSuccessAt !== undefined && { lastSuccessAt: this.lastSuccessAt }),
      counters: {
        flushes: this.flushes,
        failedFlushes: this.failedFlushes,
        skippedFlushes: this.skippedFlushes,
        datagramsSent: c.datagramsSent,
        linesSent: c.linesSent,
        bytesSent: c.bytesSent,
        linesDropped: c.linesDropped + this.stats.dropped,
        datagramsDropped: c.datagramsDropped,
        sendErrors: c.sendErrors,
        bufferedBytes: this.sender.inFlightBytes,
        retryQueuedBytes: this.sender.retryQueuedBytes,
        linesRequeued: c.linesRequeued,
        circuitOpened: this.breaker.opened,
      },
    };
  }

  /** Bytes held for the differences between flushes (per-endpoint baselines). */
  get baselineBytes(): number {
    return this.registry.baselineBytes;
  }

  /** Lifetime send counters (tests and benchmarks). */
  get counters(): Readonly<SenderCounters> & { statsDropped: number } {
    return { ...this.sender.counters, statsDropped: this.stats.dropped };
  }

  private async run(force: boolean): Promise<FlushReport> {
    const report: FlushReport = { lines: 0, skipped: false, error: null };
    if (this.closed || (!force && !this.breaker.allow())) {
      this.skippedFlushes++;
      report.skipped = true;
      return report;
    }
    this.flushes++;
    try {
      await this.transport.open();
    } catch (error) {
      this.failed(error);
      report.error = error as Error;
      return report;
    }
    const sender = this.sender;
    sender.begin();
    this.transport.watch?.((error) => sender.noteRefusal(error));
    let complete = true;
    try {
      this.registry.read();
      for (const group of this.registry.groupList()) {
        this.registry.write(group);
        if (sender.backlog >= 16) await sender.pump();
      }
      this.stats.drain((text, lines) => sender.add(text, lines));
      complete = await sender.end();
      // A refusal (ICMP port unreachable) arrives after the send it answers: give it a moment.
      const wait = this.options.refusalWaitMs ?? 20;
      if (this.transport.takeError !== undefined && wait > 0 && sender.linesAdded > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    } catch (error) {
      // A bug here must not become an unhandled rejection from the timer.
      sender.firstError ??= error as Error;
    } finally {
      this.transport.watch?.(null);
      this.transport.release?.();
    }
    const asyncError = this.transport.takeError?.() ?? null;
    if (asyncError !== null && this.transport.watch === undefined) sender.noteRefusal(asyncError);
    // Refused datagrams, and those the refusal shows were lost, wait in the retry queue.
    sender.settle();
    report.lines = sender.linesAdded;
    const dropped = sender.counters.linesDropped + this.stats.dropped;
    this.lastDropped = dropped - this.droppedAtLastFlush;
    this.droppedAtLastFlush = dropped;
    const error =
      sender.firstError ??
      asyncError ??
      (complete ? null : new Error(`send buffer full (${this.options.maxBufferBytes} bytes): lines dropped`));
    if (error !== null) {
      this.failed(error);
      report.error = error;
    } else if (report.lines > 0) {
      this.succeeded();
    } else {
      // Nothing was sent, so nothing was learned about the target: keep the circuit where it is.
      this.breaker.abstain();
    }
    return report;
  }

  private succeeded(): void {
    const wasOpen = this.breaker.state !== 'closed';
    this.breaker.success();
    this.lastFlushFailed = false;
    this.lastSuccessAt = new Date().toISOString();
    if (wasOpen) this.tell(`apimeter: ${this.healthName} exporter sending again to ${this.transport.target}`);
  }

  private failed(error: unknown): void {
    const before = this.breaker.opened;
    this.breaker.failure();
    this.failedFlushes++;
    this.lastFlushFailed = true;
    const e = error as NodeJS.ErrnoException;
    const code = typeof e?.code === 'string' && !String(e.message).includes(e.code) ? `${e.code}: ` : '';
    this.lastError = `${code}${e instanceof Error ? e.message : String(error)} (${this.transport.target})`;
    this.lastErrorAt = new Date().toISOString();
    if (this.breaker.opened > before) {
      const seconds = Math.round(this.breaker.retryInMs / 1000);
      this.tell(`apimeter: ${this.healthName} exporter failing, circuit open for ${seconds} s: ${this.lastError}`);
    }
  }

  private tell(message: string): void {
    try {
      (this.options.onStateChange ?? console.warn)(message);
    } catch {
      // a logger that throws must not break the exporter
    }
  }
}
