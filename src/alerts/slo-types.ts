/** A validated, frozen SLO from a rules file's `slos:`. */
export interface SloDefinition {
  readonly name: string;
  readonly description: string;
  readonly endpoints: readonly string[];
  readonly matches: (endpoint: string) => boolean;
  /** availability: good = not 5xx (4xx and 499 as configured); latency: good = at or below `thresholdMs`. */
  readonly sli: 'availability' | 'latency';
  /** Target share of good requests, 0..1 (the file says percent: 99.9). */
  readonly objective: number;
  readonly thresholdMs: number | null;
  readonly periodMs: number;
  readonly count4xxAsBad: boolean;
  readonly count499AsBad: boolean;
  /** Generate the multi-window burn-rate alert rules. */
  readonly alerting: boolean;
  readonly labels: Readonly<Record<string, string>>;
}
