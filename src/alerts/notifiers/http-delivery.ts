import type * as Undici from 'undici';
import type { Agent } from 'undici';
import { requireOptional } from '../../core/optional-require.js';
import { redactUrl } from '../../core/redact.js';
import { backoffDelay, errorText, redactText, retryAfterMs, splitUserinfo } from './http-helpers.js';

export interface DeliveryOptions {
  /** Where bodies are POSTed. Userinfo (`https://user:pw@host/…`) is sent as Basic authorization, unless `headers` has one. */
  url: string;
  /** How the URL appears in errors and health. Default: `redactUrl(url)`. */
  shownUrl?: string;
  /** Extra request headers (Authorization, …); never shown anywhere. */
  headers?: Readonly<Record<string, string>>;
  /** Per attempt, connect to last body byte. Default 5,000. */
  timeoutMs?: number;
  /** Attempts per body, the first included. Default 5. */
  maxAttempts?: number;
  /** Wait before the first retry; doubled each time. Default 500. */
  backoffMs?: number;
  /** Longest wait between attempts (a `Retry-After` is honoured up to this). Default 30,000. */
  maxBackoffMs?: number;
  /** Bodies waiting behind the one being sent; past it the oldest waiting body is dropped. Default 100. */
  queueSize?: number;
  /** 0 ≤ x < 1, for the jitter. Default Math.random. */
  random?: () => number;
  /** Receives every failed attempt's message (redacted). */
  onError?: (message: string) => void;
}

export interface DeliveryStats {
  /** Bodies accepted with a 2xx answer. */
  delivered: number;
  /** Bodies given up: attempts exhausted, a non-retryable answer (4xx), or closing. */
  failed: number;
  /** Bodies dropped unsent: the queue overflowed, or notify() came after close(). */
  dropped: number;
  /** Attempts after the first. */
  retries: number;
}

interface Job {
  body: string;
  resolve: () => void;
}

type Outcome = { ok: true } | { ok: false; retryable: boolean; message: string; retryAfterMs: number };

const MAX_ERROR_BODY = 200;

/**
 * POSTs JSON bodies one at a time, in order, each with a timeout per attempt and retries with
 * exponential backoff and jitter. `send()` only enqueues: it resolves when the body was delivered or
 * given up, and never rejects. The webhook, Slack and Alertmanager notifiers share it.
 *
 * @example
 * const delivery = new HttpDelivery({ url: 'https://hooks.example.com/x', headers: { authorization: 'Bearer …' } });
 * await delivery.send(JSON.stringify({ hello: 1 }));
 * delivery.health(); // { state: 'ok', lastError: null, pending: 0 }
 */
export class HttpDelivery {
  readonly shownUrl: string;
  readonly stats: DeliveryStats = { delivered: 0, failed: 0, dropped: 0, retries: 0 };
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly queueSize: number;
  private readonly random: () => number;
  private readonly onError: (message: string) => void;
  private readonly agent: Agent;
  private readonly undici: typeof Undici;
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private running: Promise<void> | null = null;
  private failing = false;
  private lastError: string | null = null;
  private closed = false;
  /** Set when close() ran out of time: every remaining body is given up. */
  private abandoned = false;
  private inflight: AbortController | null = null;
  private wake: (() => void) | null = null;

  constructor(options: DeliveryOptions) {
    const [url, basic] = splitUserinfo(options.url);
    this.url = url;
    this.shownUrl = options.shownUrl ?? redactUrl(options.url);
    this.headers = { 'content-type': 'application/json', 'user-agent': 'apimeter', ...options.headers };
    const hasAuthorization = Object.keys(this.headers).some((k) => k.toLowerCase() === 'authorization');
    if (basic !== null && !hasAuthorization) this.headers.authorization = basic;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.backoffMs = options.backoffMs ?? 500;
    this.maxBackoffMs = Math.max(this.backoffMs, options.maxBackoffMs ?? 30_000);
    this.queueSize = Math.max(0, options.queueSize ?? 100);
    this.random = options.random ?? Math.random;
    const onError = options.onError;
    this.onError = (message) => {
      try {
        onError?.(message);
      } catch {
        // The hook's own failure must not stop deliveries.
      }
    };
    this.undici = requireOptional<typeof Undici>('undici', 'webhook and HTTP notifiers');
    this.agent = new this.undici.Agent({ connect: { timeout: this.timeoutMs } });
  }

  /** Enqueues one body; resolves when it was delivered or given up. Never rejects. */
  send(body: string): Promise<void> {
    if (this.closed) {
      this.stats.dropped++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.queue.push({ body, resolve });
      this.running ??= this.run(); // takes the first body off the queue at once when idle
      while (this.queue.length > this.queueSize) {
        this.stats.dropped++;
        this.queue.shift()!.resolve();
      }
    });
  }

  /** Records a failure: health turns failing with this (already redacted) message until the next delivery. */
  report(message: string): void {
    this.failing = true;
    this.lastError = message;
    this.onError(message);
  }

  health(): { state: 'ok' | 'failing'; lastError: string | null; pending: number } {
    const pending = this.queue.length + (this.current === null ? 0 : 1);
    return { state: this.failing ? 'failing' : 'ok', lastError: this.lastError, pending };
  }

  /**
   * Stops accepting bodies and gives those queued one attempt each, without waiting between them, for
   * at most one attempt's timeout in all; what is left then is given up.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.wake?.();
      if (this.running !== null) {
        const deadline = setTimeout(() => {
          this.abandoned = true;
          this.inflight?.abort();
        }, this.timeoutMs);
        await this.running;
        clearTimeout(deadline);
      }
      await this.agent.close().catch(() => {});
    }
  }

  private async run(): Promise<void> {
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
      this.current = job;
      try {
        await this.deliver(job.body);
      } catch (error) {
        this.stats.failed++;
        this.report(this.describe(`unexpected: ${errorText(error)}`));
      }
      this.current = null;
      job.resolve();
    }
    this.running = null;
  }

  private async deliver(body: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.abandoned) {
        this.stats.failed++;
        return;
      }
      const outcome = await this.attempt(body);
      if (outcome.ok) {
        this.stats.delivered++;
        this.failing = false;
        return;
      }
      this.report(outcome.message);
      if (!outcome.retryable || attempt >= this.maxAttempts || this.closed) {
        this.stats.failed++;
        return;
      }
      this.stats.retries++;
      await this.pause(this.backoff(attempt, outcome.retryAfterMs));
    }
  }

  private backoff(attempt: number, retryAfterMs: number): number {
    return backoffDelay(attempt, this.backoffMs, this.maxBackoffMs, this.random(), retryAfterMs);
  }

  private pause(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.wake = null;
    });
  }

  private async attempt(body: string): Promise<Outcome> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    this.inflight = controller;
    try {
      const res = await this.undici.request(this.url, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: controller.signal,
        dispatcher: this.agent,
      });
      if (res.statusCode >= 200 && res.statusCode < 300) {
        await res.body.dump();
        return { ok: true };
      }
      const text = (await res.body.text()).slice(0, MAX_ERROR_BODY).replace(/\s+/g, ' ').trim();
      const status = res.statusCode;
      return {
        ok: false,
        retryable: status >= 500 || status === 408 || status === 429,
        message: this.describe(`HTTP ${status}${text === '' ? '' : `: ${redactText(text)}`}`),
        retryAfterMs: retryAfterMs(res.headers['retry-after']),
      };
    } catch (error) {
      const why = timedOut
        ? `timed out after ${this.timeoutMs} ms`
        : controller.signal.aborted
          ? 'given up at close'
          : errorText(error);
      return {
        ok: false,
        retryable: !controller.signal.aborted || timedOut,
        message: this.describe(why),
        retryAfterMs: 0,
      };
    } finally {
      clearTimeout(timer);
      this.inflight = null;
    }
  }

  private describe(why: string): string {
    return `POST ${this.shownUrl}: ${why}`;
  }
}
