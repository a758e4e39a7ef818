/**
 * Long main-thread loops (collecting a 1,000-endpoint snapshot, serializing it, decoding a long history
 * read) call the function this returns once per item: it yields to the event loop (setImmediate) once
 * `budgetMs` have passed since the last yield, so no single turn holds the loop much longer than that,
 * however slow the machine or cold the code.
 *
 * @example
 * const slice = timeSlicer();
 * for (const row of rows) { await slice(); encode(row); }
 */
export function timeSlicer(budgetMs = 2): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    if (performance.now() - since < budgetMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        since = performance.now();
        resolve();
      }),
    );
  };
}
