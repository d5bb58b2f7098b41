import { readFileSync } from 'node:fs';
import { parseRules } from './rule-loader.ts';
import type { RuleDefinition } from './types.ts';

/** The shipped rule file: the one source of truth for the built-in rules. */
export const DEFAULT_RULES_PATH = new URL('../rules/default-rules.yaml', import.meta.url);

let cached: RuleDefinition[] | undefined;

/** The built-in rules (parsed once; each call returns a fresh deep copy to edit freely). */
export function defaultRules(): RuleDefinition[] {
  cached ??= parseRules(readFileSync(DEFAULT_RULES_PATH, 'utf8'), 'default-rules.yaml');
  return structuredClone(cached);
}

export const DEFAULT_RULE_IDS = [
  'rapid_guardrail_blocks',
  'output_filter_bypass',
  'escalating_complexity',
  'systematic_enumeration',
  'high_block_rate',
  'identical_requests',
  'escalating_length',
  'system_prompt_leakage',
  'token_usage_anomaly',
  'coordinated_campaign',
  'indirect_prompt_injection',
] as const;
