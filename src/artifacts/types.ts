import type { ArtifactPreset } from '../exporters/catalogue.js';
import type { RouteFormat } from '../exporters/prometheus-legacy.js';

import type { AlertRule, RuleSet } from '../alerts/rules.js';
import type { SloDefinition } from '../alerts/slo-types.js';

/**
 * The generators read the compiled rules and SLOs of a rules file (src/alerts), so the generated
 * artifacts and the in-process evaluator start from the same validated definitions.
 */
export type ArtifactRule = AlertRule;
export type ArtifactSlo = SloDefinition;
export type ArtifactRuleSet = Pick<RuleSet, 'rules' | 'slos'>;

/** What every generator is given. */
export interface ArtifactOptions {
  readonly naming: ArtifactPreset;
  /** `sloth_service` of the SLO series and the `service` label of alerts. */
  readonly service: string;
  /**
   * How the exposition writes `route` (the route matchers follow it). Default: the preset's (`colon`
   * for `legacy`, else `openapi`), as `renderPrometheus` defaults it.
   */
  readonly routeFormat?: RouteFormat;
  /** The exposition's duration bucket bounds in seconds (`le` matchers). Default: the preset's. */
  readonly durationBuckets?: readonly number[];
}
