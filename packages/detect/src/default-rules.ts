import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RuleDefinition } from './types.ts';

/** The shipped rule file: the one source of truth for the built-in rules, the file to edit. */
export const DEFAULT_RULES_PATH = new URL('../rules/default-rules.yaml', import.meta.url);

/**
 * The same rules as the engine takes them (parsed, validated, durations in milliseconds),
 * written from DEFAULT_RULES_PATH by `npm run rules:json` (scripts/default-rules-json.ts; a test
 * fails while it is out of date). Read instead of the YAML so that the engine loads neither the
 * YAML parser nor zod (~170 modules, ~110 ms of CPU to load, ~55 ms to parse and validate the
 * file): `llmsec replay`'s engine thread, given its rules, and every start with the defaults.
 */
const DEFAULT_RULES_DATA_PATH = new URL('../rules/default-rules.json', import.meta.url);

let cached: RuleDefinition[] | undefined;

/** The built-in rules (read once; each call returns a fresh deep copy to edit freely). */
export function defaultRules(): RuleDefinition[] {
  cached ??= JSON.parse(readDefaultRules()) as RuleDefinition[];
  return structuredClone(cached);
}

/**
 * The file is read beside this module: a bundle (esbuild, rolldown, webpack) or an install that
 * left it out has none there, and a bare ENOENT said neither what the file is nor what to do.
 */
function readDefaultRules(): string {
  try {
    return readFileSync(DEFAULT_RULES_DATA_PATH, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new Error(
      `the built-in rule file is missing: ${fileURLToPath(DEFAULT_RULES_DATA_PATH)} (bundled or partial install?): ` +
        `put @llmsec/detect's rules/ folder there, or give a rule file (--rules FILE)`,
    );
  }
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
  'tool_injection_variety',
  'auth_failure_burst',
  'credential_stuffing',
  'rate_limit_persistence',
  'cost_limit_abuse',
  'tool_abuse_repeated',
] as const;
