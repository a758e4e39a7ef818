import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { createError } from '../errors.js';
import { HostResolver } from './host-resolver.js';
import type { HostResolverOptions } from './host-resolver.js';

/**
 * Where StatsD datagrams go. The exporter calls `open()` before a flush, `send()` per datagram and
 * `release()` after the flush; none of them throws into the caller, failures come back as errors.
 */
export interface StatsdTransport {
  /** Where datagrams go, for /health and logs: `udp statsd.internal:8125 (10.0.0.7)`. */
  readonly target: string;
  /** Gets ready for a flush; rejects when the target cannot be used (host does not resolve, module missing). */
  open(): Promise<void>;
  /** Hands one datagram over; `done` is called exactly once, with an error when it was not sent. */
  send(datagram: Buffer, done: (error: Error | null) => void): void;
  /** Called after a flush's sends are done. */
  release?(): void;
  /** An error the transport saw outside a send callback since the last call (ICMP port unreachable…). */
  takeError?(): Error | null;
  /** Calls `listener` at once with each error seen outside a send callback (null: stop). */
  watch?(listener: ((error: Error) => void) | null): void;
  close(): Promise<void>;
}

/** DNS options of the UDP transport: see {@link HostResolverOptions} (`dnsTtlMs`, `lookupTimeoutMs`, `dnsServers`, …). */
export type UdpTransportOptions = HostResolverOptions;

/**
 * UDP to `host:port` over one connected `node:dgram` socket (unref'd: it never keeps the process alive).
 * The host is resolved by a {@link HostResolver}: through c-ares, not libuv's thread pool, at most once per
 * `dnsTtlMs` and never twice at a time; IPv4 answers are preferred, as StatsD daemons and the DataDog Agent
 * listen on 127.0.0.1 by default. When a new lookup fails the last good address is kept. A connected
 * socket hears ICMP "port unreachable", so "nothing listens there" shows up as ECONNREFUSED in /health.
 * Such an error arrives after the send it belongs to; one still unread when the next flush opens belongs
 * to earlier sends, so it is discarded and the socket replaced (a fresh socket carries no stale error).
 */
export class UdpTransport implements StatsdTransport {
  private socket: dgram.Socket | null = null;
  private address: string | null = null;
  private family = 4;
  private asyncError: Error | null = null;
  private listener: ((error: Error) => void) | null = null;
  private readonly resolver: HostResolver;

  constructor(
    readonly host: string,
    readonly port: number,
    options: UdpTransportOptions = {},
  ) {
    this.resolver = new HostResolver(options);
    const family = net.isIP(host);
    if (family !== 0) {
      this.address = host;
      this.family = family;
    }
  }

  get target(): string {
    const resolved = this.address !== null && this.address !== this.host ? ` (${this.address})` : '';
    return `udp ${this.host}:${this.port}${resolved}`;
  }

  async open(): Promise<void> {
    if (this.asyncError !== null) {
      this.asyncError = null;
      this.dropSocket();
    }
    if (net.isIP(this.host) === 0) {
      try {
        const found = await this.resolver.resolve(this.host);
        if (found.address !== this.address) {
          this.dropSocket();
          this.address = found.address;
          this.family = found.family;
        }
      } catch (error) {
        // A DNS blip must not stop a working exporter: keep the last good address if there is one.
        if (this.address === null) throw error;
        this.asyncError = error as Error;
      }
    }
    if (this.socket === null) await this.connect();
  }

  send(datagram: Buffer, done: (error: Error | null) => void): void {
    const socket = this.socket;
    if (socket === null) {
      done(new Error('socket not open'));
      return;
    }
    try {
      socket.send(datagram, (error) => done(error ?? null));
    } catch (error) {
      done(error as Error);
    }
  }

  takeError(): Error | null {
    const error = this.asyncError;
    this.asyncError = null;
    return error;
  }

  watch(listener: ((error: Error) => void) | null): void {
    this.listener = listener;
  }

  async close(): Promise<void> {
    this.dropSocket();
  }

  private connect(): Promise<void> {
    const socket = dgram.createSocket(this.family === 6 ? 'udp6' : 'udp4');
    // Without a listener an 'error' event would be thrown; ICMP errors arrive here on connected sockets.
    socket.on('error', (error) => {
      if (this.socket !== socket) return;
      this.asyncError = error;
      this.listener?.(error);
    });
    socket.unref();
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        this.dropSocket();
        reject(error);
      };
      socket.once('error', fail);
      socket.connect(this.port, this.address!, () => {
        socket.off('error', fail);
        resolve();
      });
    });
  }

  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket === null) return;
    try {
      socket.close();
    } catch {
      // already closed
    }
  }
}

interface UnixDgramSocket {
  on(event: 'error', listener: (error: Error) => void): void;
  send(buf: Buffer, offset: number, length: number, path: string, callback: (error?: Error) => void): void;
  close(): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}

/**
 * A Unix datagram socket (DogStatsD's `dogstatsd_socket`, e.g. `/var/run/datadog/dsd.socket`), through
 * the `unix-dgram` package (installed with hot-shots as an optional dependency; Node has no Unix datagram
 * sockets of its own). The socket is opened per flush and closed after it, because unix-dgram sockets
 * cannot be unref'd and would keep the process alive. Unix sockets do not lose datagrams: when the
 * receiver's queue is full (EAGAIN) a datagram waits, in order, up to `maxWaitMs` for room — counted in
 * the sender's bounded buffer — and is dropped and counted after that.
 */
export class UdsTransport implements StatsdTransport {
  private socket: UnixDgramSocket | null = null;
  private asyncError: Error | null = null;
  private module: UnixDgramModule | null = null;
  /** Datagrams waiting for the receiver to make room (EAGAIN), oldest first; bounded by the sender's buffer. */
  private readonly waiting: { datagram: Buffer; done: (error: Error | null) => void; since: number }[] = [];
  private retry: NodeJS.Timeout | null = null;

  /** `maxWaitMs`: how long one datagram may wait for a full receive queue before it is dropped. */
  constructor(
    readonly path: string,
    private readonly maxWaitMs = 500,
  ) {}

  get target(): string {
    return `uds ${this.path}`;
  }

  async open(): Promise<void> {
    this.asyncError = null; // from an earlier flush's socket: already judged
    if (this.module === null) {
      try {
        this.module = createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
      } catch {
        throw createError(
          'APIMETER_ERR_MISSING_DEPENDENCY',
          'statsd_uds_path needs the unix-dgram package: npm install unix-dgram (or npm install hot-shots, which brings it)',
        );
      }
    }
    if (this.socket === null) {
      const socket = this.module.createSocket('unix_dgram');
      socket.on('error', (error) => {
        this.asyncError = error;
      });
      this.socket = socket;
    }
  }

  send(datagram: Buffer, done: (error: Error | null) => void): void {
    const item = { datagram, done, since: Date.now() };
    // Keep the order: once one datagram waits for room, later ones queue behind it.
    if (this.waiting.length > 0 || !this.attempt(item)) {
      this.waiting.push(item);
      this.schedule();
    }
  }

  /** Sends one datagram; false when the receiver's queue is full and it should be tried again. */
  private attempt(item: { datagram: Buffer; done: (error: Error | null) => void; since: number }): boolean {
    const socket = this.socket;
    if (socket === null) {
      item.done(new Error('socket closed before the datagram could be sent'));
      return true;
    }
    let outcome: Error | null = null;
    try {
      socket.send(item.datagram, 0, item.datagram.length, this.path, (error) => {
        outcome = error ? this.describe(error) : null;
      });
    } catch (error) {
      outcome = error as Error;
    }
    const full = (outcome as { code?: unknown } | null)?.code === 'EAGAIN';
    if (full && Date.now() - item.since < this.maxWaitMs) return false;
    item.done(outcome);
    return true;
  }

  private schedule(): void {
    if (this.retry !== null) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      while (this.waiting.length > 0) {
        if (!this.attempt(this.waiting[0])) {
          this.schedule();
          return;
        }
        this.waiting.shift();
      }
    }, 1);
  }

  /** unix-dgram reports `send -2`: turn the errno into `ENOENT: send to /path failed`. */
  private describe(error: Error): Error {
    const errno = (error as { code?: unknown }).code;
    if (typeof errno !== 'number') return error;
    if (errno === 1) return Object.assign(new Error(`congestion: ${this.path} is not reading`), { code: 'EAGAIN' });
    let name = `errno ${errno}`;
    try {
      name = getSystemErrorName(errno);
    } catch {
      // not a system errno
    }
    return Object.assign(new Error(`${name}: send to ${this.path} failed`), { code: name });
  }

  release(): void {
    const socket = this.socket;
    this.socket = null;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    for (const item of this.waiting.splice(0)) item.done(new Error(`EAGAIN: ${this.path} did not make room in time`));
    try {
      socket?.close();
    } catch {
      // already closed
    }
  }

  takeError(): Error | null {
    const error = this.asyncError;
    this.asyncError = null;
    return error;
  }

  async close(): Promise<void> {
    this.release();
  }
}
