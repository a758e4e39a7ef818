import type { StatsdTransport } from './statsd-transport.js';

/** What the sender counts over its lifetime (shown in /health). */
export interface SenderCounters {
  datagramsSent: number;
  linesSent: number;
  bytesSent: number;
  /** Lines not delivered: the buffer stayed full, the line was longer than a datagram, or a send failed. */
  linesDropped: number;
  datagramsDropped: number;
  sendErrors: number;
  /** Lines put back for the next flush because their datagram was not delivered. */
  linesRequeued: number;
}

/** One datagram handed to the transport in the current flush: `ok` null while its send is pending. */
interface Dispatched {
  datagram: Buffer;
  lines: number;
  ok: boolean | null;
  /** Still in its flush's list (false once settle() ran while the send was pending). */
  tracked: boolean;
  /** Position in its flush's list. */
  index: number;
}

const isRefusal = (error: Error) => (error as NodeJS.ErrnoException).code === 'ECONNREFUSED';

/**
 * Packs lines into datagrams of at most `maxDatagramBytes` (lines are ASCII, so characters are bytes)
 * and hands them to the transport while at most `maxBufferBytes` are in flight (handed over, send not
 * yet completed). When the buffer is full the sender waits up to `drainTimeoutMs` for room; if none
 * comes, that datagram and every later one of the flush are dropped and counted.
 *
 * Datagrams a flush could not deliver — their send failed, or the sink refused after they were handed
 * over ({@link noteRefusal}) — go to a retry queue of at most `maxRetryBytes` and are sent first by the next
 * flush: counters and timers as they were, gauges only their latest value (a newer one replaces an older
 * one). What does not fit is dropped and counted. Memory stays bounded whatever the network does.
 */
export class DatagramSender {
  readonly counters: SenderCounters = {
    datagramsSent: 0,
    linesSent: 0,
    bytesSent: 0,
    linesDropped: 0,
    datagramsDropped: 0,
    sendErrors: 0,
    linesRequeued: 0,
  };
  /** Bytes handed to the transport whose send has not completed. */
  inFlightBytes = 0;
  /** The datagram being filled: lines are written straight into it (no string concatenation). */
  private current: Buffer | null = null;
  private currentBytes = 0;
  private currentLines = 0;
  private readonly ready: { datagram: Buffer; lines: number }[] = [];
  private stalled = false;
  private pending = 0;
  private readonly wakers = new Set<() => void>();
  /** First send error of the current flush. */
  firstError: Error | null = null;
  /** Lines added in the current flush (sent, dropped or pending). */
  linesAdded = 0;
  /** Datagrams of the current flush handed to the transport, in order (kept until {@link settle}). */
  private dispatched: Dispatched[] = [];
  /** The flush's datagrams before this position are taken as lost: a refusal came after them. */
  private refusedThrough = 0;
  /** Undelivered datagrams without their absolute gauges, oldest first, and their total size. */
  private retry: { datagram: Buffer; lines: number }[] = [];
  private retryBytes = 0;
  /** Undelivered absolute gauges: series (the line without its value) → latest line. */
  private retryGauges = new Map<string, string>();
  private retryGaugeBytes = 0;

  constructor(
    private readonly transport: StatsdTransport,
    readonly maxDatagramBytes: number,
    readonly maxBufferBytes: number,
    private readonly drainTimeoutMs = 1000,
    readonly maxRetryBytes = 1 << 20,
    readonly retryBytesPerFlush = 64 * 1024,
  ) {}

  /** Datagrams still waiting in the retry queue. */
  get retryBacklog(): number {
    return this.retry.length;
  }

  /** Bytes waiting in the retry queue for the next flush. */
  get retryQueuedBytes(): number {
    return this.retryBytes + this.retryGaugeBytes;
  }

  /**
   * Starts a flush: errors and the stalled flag of the previous one are forgotten, and what the retry
   * queue holds goes out first.
   */
  begin(): void {
    this.current = null;
    this.currentBytes = 0;
    this.currentLines = 0;
    this.ready.length = 0;
    this.stalled = false;
    this.firstError = null;
    this.linesAdded = 0;
    this.dispatched = [];
    this.refusedThrough = 0;
    // At most retryBytesPerFlush of the queue, oldest first: a sink that just came back (and its socket's
    // receive buffer) is not flooded; the rest goes with the next flushes.
    let taken = 0;
    let bytes = 0;
    while (
      taken < this.retry.length &&
      (taken === 0 || bytes + this.retry[taken].datagram.length <= this.retryBytesPerFlush)
    ) {
      const item = this.retry[taken++];
      bytes += item.datagram.length;
      this.ready.push(item);
      this.linesAdded += item.lines;
    }
    this.retry.splice(0, taken);
    this.retryBytes -= bytes;
    const gauges = [...this.retryGauges.values()];
    this.retryGauges.clear();
    this.retryGaugeBytes = 0;
    for (const line of gauges) this.add(line);
    this.seal();
  }

  /**
   * The sink refused (ICMP port unreachable: nothing listened). A refusal arrives after the datagram it
   * answers, so every datagram of this flush handed over before now is taken as lost.
   */
  noteRefusal(error: Error): void {
    if (isRefusal(error)) this.refusedThrough = this.dispatched.length;
  }

  /**
   * Ends the bookkeeping of a flush: datagrams whose send failed, and those handed over before the
   * sink's last refusal ({@link noteRefusal}), are queued for the next flush, up to the retry bound.
   * Datagrams after the last refusal count as delivered (UDP has no acknowledgement).
   */
  settle(): void {
    const c = this.counters;
    const through = this.refusedThrough;
    for (const d of this.dispatched) {
      d.tracked = false;
      const lost = d.ok === true && d.index < through;
      if (d.ok === false || lost) {
        if (lost) {
          // Handed over but, as the refusal shows, not received.
          c.datagramsSent--;
          c.linesSent -= d.lines;
          c.bytesSent -= d.datagram.length;
        }
        this.requeue(d.datagram, d.lines);
      }
    }
    this.dispatched = [];
    this.refusedThrough = 0;
  }

  private requeue(datagram: Buffer, lines: number): void {
    const c = this.counters;
    const text = datagram.toString('latin1');
    let kept: string[] | null = null;
    if (text.includes('|g')) {
      kept = [];
      for (const line of text.split('\n')) {
        const pipe = line.indexOf('|');
        const colon = line.lastIndexOf(':', pipe);
        const isGauge =
          pipe > 0 && line.charCodeAt(pipe + 1) === 103 && (line.length === pipe + 2 || line[pipe + 2] === '|');
        const value = line.charCodeAt(colon + 1);
        // Absolute gauges (not `+n`/`-n` changes): only the latest value of a series matters.
        if (isGauge && colon > 0 && value !== 43 && value !== 45) {
          const series = line.slice(0, colon) + line.slice(pipe);
          const had = this.retryGauges.get(series);
          if (had === undefined && this.retryQueuedBytes + line.length + 1 > this.maxRetryBytes) {
            c.linesDropped++;
          } else {
            this.retryGaugeBytes += line.length + 1 - (had === undefined ? 0 : had.length + 1);
            this.retryGauges.set(series, line);
            c.linesRequeued++;
          }
        } else {
          kept.push(line);
        }
      }
      if (kept.length === 0) return;
      datagram = Buffer.from(kept.join('\n'), 'latin1');
      lines = kept.length;
    }
    if (this.retryQueuedBytes + datagram.length > this.maxRetryBytes) {
      c.linesDropped += lines;
      c.datagramsDropped++;
      return;
    }
    this.retry.push({ datagram, lines });
    this.retryBytes += datagram.length;
    c.linesRequeued += lines;
  }

  /** Adds `text` (one line, or `lines` lines joined by `\n` that must travel in one datagram). ASCII only. */
  add(text: string, lines = 1): void {
    this.linesAdded += lines;
    const size = text.length;
    if (size > this.maxDatagramBytes) {
      this.counters.linesDropped += lines;
      return;
    }
    let buf = this.current;
    if (buf !== null && this.currentBytes + 1 + size > this.maxDatagramBytes) {
      this.seal();
      buf = null;
    }
    if (buf === null) {
      // Each datagram needs its own memory: the send completes later. allocUnsafe takes it from Node's pool.
      buf = this.current = Buffer.allocUnsafe(this.maxDatagramBytes);
      this.currentBytes = buf.write(text, 0, 'latin1');
    } else {
      buf[this.currentBytes] = 10; // '\n'
      this.currentBytes += 1 + buf.write(text, this.currentBytes + 1, 'latin1');
    }
    this.currentLines += lines;
  }

  private seal(): void {
    if (this.current !== null && this.currentLines > 0) {
      this.ready.push({ datagram: this.current.subarray(0, this.currentBytes), lines: this.currentLines });
    }
    this.current = null;
    this.currentBytes = 0;
    this.currentLines = 0;
  }

  /**
   * Adds the same line `n` times (timer values repeated per request). The text is encoded once per
   * datagram; the other copies are byte copies within it, which cost a fraction of a string write.
   */
  addRepeated(line: string, n: number): void {
    const size = line.length;
    if (n <= 0) return;
    if (size > this.maxDatagramBytes) {
      // Too long for any datagram: dropped and counted, as add() does.
      this.linesAdded += n;
      this.counters.linesDropped += n;
      return;
    }
    let left = n;
    while (left > 0) {
      this.add(line);
      left--;
      const buf = this.current!;
      const start = this.currentBytes - size;
      const fit = Math.min(left, Math.floor((this.maxDatagramBytes - this.currentBytes) / (size + 1)));
      let at = this.currentBytes;
      for (let i = 0; i < fit; i++) {
        buf[at] = 10; // '\n'
        buf.copyWithin(at + 1, start, start + size);
        at += 1 + size;
      }
      this.currentBytes = at;
      this.currentLines += fit;
      this.linesAdded += fit;
      left -= fit;
    }
  }

  /** True when enough datagrams are waiting to be worth a {@link pump}. */
  get backlog(): number {
    return this.ready.length;
  }

  /** Sends the datagrams packed so far, waiting for buffer room as needed. */
  async pump(): Promise<void> {
    const ready = this.ready;
    for (let i = 0; i < ready.length; i++) {
      const { datagram, lines } = ready[i];
      const bytes = datagram.length;
      if (!this.stalled && this.inFlightBytes + bytes > this.maxBufferBytes) {
        this.stalled = !(await this.room(bytes));
      }
      if (this.stalled) {
        this.counters.linesDropped += lines;
        this.counters.datagramsDropped++;
        continue;
      }
      this.dispatch(datagram, lines);
    }
    ready.length = 0;
  }

  /**
   * Sends what is left and waits (up to the drain timeout) for every send of this flush to complete.
   * Returns false when the buffer stayed full or sends did not complete: the flush lost data.
   */
  async end(): Promise<boolean> {
    this.seal();
    await this.pump();
    const settled = this.pending === 0 || (await this.settled());
    return settled && !this.stalled;
  }

  private dispatch(datagram: Buffer, lines: number): void {
    const bytes = datagram.length;
    this.inFlightBytes += bytes;
    this.pending++;
    let called = false;
    const item: Dispatched = {
      datagram,
      lines,
      ok: null,
      tracked: this.maxRetryBytes > 0,
      index: this.dispatched.length,
    };
    if (item.tracked) this.dispatched.push(item);
    this.transport.send(datagram, (error) => {
      if (called) return;
      called = true;
      this.inFlightBytes -= bytes;
      this.pending--;
      item.ok = error === null;
      if (error === null) {
        this.counters.datagramsSent++;
        this.counters.linesSent += lines;
        this.counters.bytesSent += bytes;
      } else {
        this.counters.sendErrors++;
        // A refusal reported by this send (the socket's pending error) answers an earlier datagram.
        if (item.tracked && isRefusal(error)) this.refusedThrough = Math.max(this.refusedThrough, item.index);
        // With a retry queue the lines are requeued (or dropped and counted) by settle().
        if (!item.tracked) {
          this.counters.linesDropped += lines;
          this.counters.datagramsDropped++;
        }
        this.firstError ??= error;
      }
      for (const wake of this.wakers) wake();
    });
  }

  /** Resolves true once `bytes` more fit in the buffer, false after the drain timeout. */
  private room(bytes: number): Promise<boolean> {
    return this.waitFor(() => this.inFlightBytes + bytes <= this.maxBufferBytes);
  }

  private settled(): Promise<boolean> {
    return this.waitFor(() => this.pending === 0);
  }

  private waitFor(done: () => boolean): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve(ok);
      };
      const wake = () => {
        if (done()) finish(true);
      };
      // Not unref'd: a flush (also the last one, at shutdown) must end, after at most drainTimeoutMs.
      const timer = setTimeout(() => finish(false), this.drainTimeoutMs);
      this.wakers.add(wake);
    });
  }
}
