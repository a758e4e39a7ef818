import { LATENCY_SKETCH, SIZE_SKETCH, Sketch } from '../sketch.js';
import { AUTH_TYPES } from './auth.js';
import { EXEMPLAR_SLOTS, noteExemplar } from './exemplars.js';
import type { Exemplar } from './exemplars.js';
import { noteMessage, noteSample } from './samples.js';
import type { ErrorMessageStats, ErrorSample } from './samples.js';

/**
 * Per-endpoint data of detailed mode that is kept since start-up rather than per time slot
 * (distributions, samples, quota): what an operator needs to explain a slow or failing endpoint. Counts
 * that need time windows (auth attempts and failures, rate-limited requests, queries) live in the
 * tally counters instead.
 */
export class EndpointDetail {
  /** Auth attempts by [type * 2 + (success ? 1 : 0)]. */
  readonly auth: number[] = new Array<number>(AUTH_TYPES.length * 2).fill(0);
  /** Queries per request and database time per request (ms), over requests recorded with a context. */
  readonly queries = new Sketch(SIZE_SKETCH);
  readonly dbTime = new Sketch(LATENCY_SKETCH);
  /** Last rate-limit quota seen: limit, remaining, when; and the lowest remaining share seen. */
  rateLimit = -1;
  rateRemaining = -1;
  rateAt = 0;
  rateLowestShare = 1;
  readonly messages = new Map<string, ErrorMessageStats>();
  readonly samples: ErrorSample[] = [];
  /** 5xx responses seen, for reservoir sampling. */
  samplesSeen = 0;
  readonly exemplars: (Exemplar | undefined)[] = new Array<Exemplar | undefined>(EXEMPLAR_SLOTS).fill(undefined);

  noteAuth(type: number, success: boolean): void {
    this.auth[type * 2 + (success ? 1 : 0)]++;
  }

  noteMessage(cls: string, message: string, now: number): void {
    noteMessage(this.messages, cls, message, now);
  }

  /** Reservoir sampling (Algorithm R): every 5xx has the same chance `capacity / seen` to be kept. */
  noteSample(capacity: number, random: () => number, make: () => ErrorSample): void {
    this.samplesSeen = noteSample(this.samples, this.samplesSeen, capacity, random, make);
  }

  noteExemplar(traceId: string, spanId: string | undefined, ms: number, now: number, status: number): void {
    noteExemplar(this.exemplars, traceId, spanId, ms, now, status);
  }

  noteRateLimit(limit: number, remaining: number, now: number): void {
    this.rateLimit = limit;
    this.rateRemaining = remaining;
    this.rateAt = now;
    if (limit > 0) {
      const share = Math.max(0, remaining) / limit;
      if (share < this.rateLowestShare) this.rateLowestShare = share;
    }
  }
}
