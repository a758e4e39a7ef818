import type { AlertEvent, Notifier } from '../types.js';
import { iso } from './format.js';
import { errorText, redactText } from './http-helpers.js';
import { ResendFilter } from './resend.js';

export interface LogNotifierOptions {
  /** Default `log`. */
  name?: string;
  /** Where lines go. Default process.stderr. A stream's 'error' events are caught (and shown in health), except process.stdout's and stderr's. */
  stream?: NodeJS.WritableStream;
  /** Re-log a still-firing instance after this many ms; 0 = transitions only (the default). */
  repeatIntervalMs?: number;
  /** Milliseconds; default Date.now. */
  now?: () => number;
}

/** One log line, as JSON. */
export interface AlertLogLine {
  time: string;
  msg: 'alert firing' | 'alert resolved';
  rule: string;
  endpoint: string;
  state: 'firing' | 'resolved';
  severity: 'page' | 'ticket' | 'info';
  value: number | null;
  threshold: number | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string | null;
  endsAt: string | null;
}

/**
 * Writes one JSON line per alert transition ({@link AlertLogLine}) to a stream, stderr by default.
 *
 * @example
 * const log = new LogNotifier();
 * await log.notify(events);
 * // {"time":"…","msg":"alert firing","rule":"HighErrorRate","endpoint":"GET /dags/{dag_id}","state":"firing",…}
 */
export class LogNotifier implements Notifier {
  readonly name: string;
  private readonly stream: NodeJS.WritableStream;
  private readonly filter: ResendFilter;
  private readonly now: () => number;
  private lastError: string | null = null;
  private failing = false;

  constructor(options: LogNotifierOptions = {}) {
    this.name = options.name ?? 'log';
    this.stream = options.stream ?? process.stderr;
    if (this.stream !== process.stderr && this.stream !== process.stdout)
      this.stream.on('error', (error: Error) => this.failed(error));
    this.now = options.now ?? Date.now;
    this.filter = new ResendFilter(options.repeatIntervalMs ?? 0, this.now);
  }

  notify(events: readonly AlertEvent[]): Promise<void> {
    let text = '';
    try {
      const time = new Date(this.now()).toISOString();
      for (const event of this.filter.select(events)) text += JSON.stringify(logLine(event, time)) + '\n';
    } catch (error) {
      this.failing = true;
      this.lastError = `cannot format events: ${errorText(error)}`;
      return Promise.resolve();
    }
    if (text === '') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (error?: Error | null) => {
        if (error === undefined || error === null) this.failing = false;
        else this.failed(error);
        resolve();
      };
      try {
        this.stream.write(text, done);
      } catch (error) {
        done(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private failed(error: Error): void {
    this.failing = true;
    this.lastError = `write: ${redactText(error.message)}`;
  }

  health(): { state: 'ok' | 'failing'; lastError: string | null; pending: number } {
    return { state: this.failing ? 'failing' : 'ok', lastError: this.lastError, pending: 0 };
  }

  async close(): Promise<void> {}
}

export function logLine(event: AlertEvent, time: string): AlertLogLine {
  return {
    time,
    msg: event.state === 'firing' ? 'alert firing' : 'alert resolved',
    rule: event.rule,
    endpoint: event.endpoint,
    state: event.state,
    severity: event.severity,
    value: Number.isFinite(event.value) ? event.value : null,
    threshold: Number.isFinite(event.threshold) ? event.threshold : null,
    labels: { ...event.labels },
    annotations: { ...event.annotations },
    startsAt: iso(event.startsAt),
    endsAt: iso(event.endsAt),
  };
}
