import type { PrometheusPreset } from '../exporters/catalogue.js';

/**
 * The parts of the alert rules and SLOs (src/alerts) the generators read. The compiled `RuleSet` of a
 * rules file fits these shapes, so the generated artifacts and the in-process evaluator start from the
 * same validated definitions.
 */
export interface ArtifactRule {
  readonly name: string;
  readonly endpoints: readonly string[];
  readonly group: string | null;
  readonly signal: string;
  readonly windowMs: number;
  readonly op: 'above' | 'below';
  readonly threshold: number;
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly minRequests: number;
  readonly severity: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly apdexTMs: number | null;
  readonly slo: string | null;
  readonly shortWindowMs: number | null;
  readonly baseline: string;
  readonly origin: 'file' | 'default' | 'slo';
}

export interface ArtifactSlo {
  readonly name: string;
  readonly description: string;
  readonly endpoints: readonly string[];
  readonly sli: 'availability' | 'latency';
  /** 0..1 */
  readonly objective: number;
  readonly thresholdMs: number | null;
  readonly periodMs: number;
  readonly count4xxAsBad: boolean;
  readonly count499AsBad: boolean;
  readonly alerting: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ArtifactRuleSet {
  readonly rules: readonly ArtifactRule[];
  readonly slos: readonly ArtifactSlo[];
}

/** What every generator is given. */
export interface ArtifactOptions {
  readonly naming: PrometheusPreset;
  /** `sloth_service` of the SLO series and the `service` label of alerts. */
  readonly service: string;
}
