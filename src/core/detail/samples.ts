/** 5xx samples and grouped error messages kept per endpoint in detailed mode. */

export interface ErrorSample {
  at: number;
  status: number;
  class: string;
  message: string;
  frames: string[];
  traceId: string | undefined;
}

export interface ErrorMessageStats {
  class: string;
  message: string;
  count: number;
  lastAt: number;
}

/** Distinct (class, normalized message) pairs kept per endpoint; the rest count under `(other)`. */
export const MAX_MESSAGES = 20;

/** Counts one (class, normalized message) pair in `messages`, folding pairs past MAX_MESSAGES into `(other)`. */
export function noteMessage(messages: Map<string, ErrorMessageStats>, cls: string, message: string, now: number): void {
  let key = cls + '\u0000' + message;
  let entry = messages.get(key);
  if (entry === undefined) {
    if (messages.size >= MAX_MESSAGES) {
      key = '(other)';
      entry = messages.get(key);
    }
    if (entry === undefined) {
      entry =
        key === '(other)'
          ? { class: '(other)', message: '', count: 0, lastAt: 0 }
          : { class: cls, message, count: 0, lastAt: 0 };
      messages.set(key, entry);
    }
  }
  entry.count++;
  entry.lastAt = now;
}

/**
 * Reservoir sampling (Algorithm R) into `samples`: every 5xx has the same chance `capacity / seen` to
 * be kept. `seen` counts the 5xx responses before this one; returns the new count.
 */
export function noteSample(
  samples: ErrorSample[],
  seen: number,
  capacity: number,
  random: () => number,
  make: () => ErrorSample,
): number {
  if (capacity <= 0) return seen;
  seen++;
  if (samples.length < capacity) {
    samples.push(make());
    return seen;
  }
  const j = Math.floor(random() * seen);
  if (j < capacity) samples[j] = make();
  return seen;
}
