/** Sketch baselines moved to the core reader (src/core/sketch-delta.ts); re-exported for existing imports. */
export { forEachBucketAt, SketchBaseline, SketchDelta } from '../core/sketch-delta.js';
export type { BucketSink, BucketSource } from '../core/sketch-delta.js';
