import net from 'node:net';

/** Anything with `close()`: exporters, persistence, a Fastify app, a `node:http` server. */
export interface Closable {
  close(): unknown;
}

/** A closable, or a function that closes something (`() => app.close()`). */
export type CloseStep = Closable | (() => unknown);

export interface CloseOnSignalOptions {
  /** Signals that start the shutdown. Default `['SIGTERM', 'SIGINT']`. */
  signals?: readonly NodeJS.Signals[];
  /** The whole shutdown gets at most this long, ms; steps not finished by then are given up. Default 10,000. */
  timeoutMs?: number;
  /**
   * Call `process.exit` once closed: `true` exits 0 (1 after a timeout or a failed step), a number exits
   * with it. Default false: the process ends by itself once nothing keeps it alive.
   */
  exit?: boolean | number;
  /** Told about a step that failed or did not finish in time. Default console.error. */
  onError?: (error: unknown) => void;
}

export interface ShutdownHandle {
  /** Runs the shutdown now (what a signal would do) and removes the signal listeners. Never rejects; safe to call twice. */
  close(): Promise<void>;
  /** Removes the signal listeners without closing anything. */
  dispose(): void;
}

function isStep(x: unknown): x is CloseStep {
  return (
    typeof x === 'function' || (typeof x === 'object' && x !== null && typeof (x as Closable).close === 'function')
  );
}

function runStep(step: CloseStep): Promise<unknown> {
  if (typeof step === 'function') return Promise.resolve().then(() => step());
  if (step instanceof net.Server) {
    // server.close() takes a callback and returns the server: wait for the callback. Idle keep-alive
    // connections are closed at once; requests in flight finish first.
    return new Promise<void>((resolve) => {
      step.close(() => resolve());
      (step as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    });
  }
  return Promise.resolve().then(() => step.close());
}

/**
 * One shutdown for the whole application: on SIGTERM or SIGINT it closes `steps` one after another, in
 * the order given, within `timeoutMs` — typically the HTTP server first (no new requests; those in
 * flight finish and are recorded), then the exporters (their last flush), then persistence (the final
 * snapshot). Then it removes its signal listeners and timers so the process can end; it calls
 * `process.exit` only with `exit`. A second signal during the shutdown ends the process the default way.
 *
 * @example
 * const exporters = await startExporters(meter);
 * const persistence = await startPersistence(meter, { handleSignals: false });
 * closeOnSignal(server, exporters, persistence, { timeoutMs: 10_000 });
 */
export function closeOnSignal(...args: (CloseStep | CloseOnSignalOptions | null | undefined)[]): ShutdownHandle {
  const last = args.at(-1);
  const options: CloseOnSignalOptions =
    args.length > 0 && !isStep(last) && typeof last === 'object' && last !== null
      ? (args.pop() as CloseOnSignalOptions)
      : {};
  const steps = args.filter(isStep);
  const signals = options.signals ?? (['SIGTERM', 'SIGINT'] as const);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const report = options.onError ?? ((error: unknown) => console.error('apimeter: shutdown:', error));

  const dispose = () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      dispose();
      let failed = false;
      let timer: NodeJS.Timeout | undefined;
      // Not unref'd: the shutdown itself keeps the process alive until it is done or out of time.
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      try {
        for (const step of steps) {
          const outcome = await Promise.race([
            runStep(step).then(
              () => 'done' as const,
              (error: unknown) => {
                failed = true;
                try {
                  report(error);
                } catch {
                  // a reporter that throws must not stop the shutdown
                }
                return 'done' as const;
              },
            ),
            deadline,
          ]);
          if (outcome === 'timeout') {
            failed = true;
            try {
              report(new Error(`shutdown did not finish within ${timeoutMs} ms`));
            } catch {
              // ignore
            }
            break;
          }
        }
      } finally {
        clearTimeout(timer);
      }
      if (options.exit !== undefined && options.exit !== false) {
        process.exit(typeof options.exit === 'number' ? options.exit : failed ? 1 : 0);
      }
    })();
    return closing;
  };
  function onSignal(): void {
    void close();
  }
  for (const signal of signals) process.on(signal, onSignal);
  return { close, dispose };
}
