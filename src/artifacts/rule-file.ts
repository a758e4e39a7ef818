import type * as Yaml from 'yaml';
import { requireOptional } from '../core/optional-require.js';

/** One rule of a Prometheus rule file (recording or alerting). */
export interface PromRule {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly keep_firing_for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly PromRule[];
}

/** A rule file as YAML: `header` lines become the leading comment. */
export function renderRuleFile(groups: readonly RuleGroup[], header: readonly string[]): string {
  const { Document } = requireOptional<typeof Yaml>('yaml', 'writing YAML rule files');
  const doc = new Document({ groups });
  doc.commentBefore = header.map((l) => ` ${l}`).join('\n');
  return doc.toString({ lineWidth: 0 });
}
