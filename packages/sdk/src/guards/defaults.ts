import type { GuardOptions } from '../instrumentation/types.ts';
import { patternGuard, PROMPT_INJECTION_PATTERNS } from './pattern.ts';
import { piiGuard } from './pii.ts';
import { systemPromptLeakageGuard } from './system-prompt-leakage.ts';
import { toolAllowlistGuard } from './tool-allowlist.ts';

/**
 * The default guard set: prompt-injection patterns (block), PII and secrets (detect only:
 * events, no change), system-prompt leakage against each request's system prompt (block),
 * and a tool allowlist when tools are listed.
 */
export function defaultGuards(
  options: { allowedTools?: string[]; canary?: string; pii?: 'redact' | 'block' | 'detect' } = {},
): GuardOptions {
  const pii = piiGuard({ mode: options.pii ?? 'detect' });
  const tools =
    options.allowedTools !== undefined ? toolAllowlistGuard({ allowed: options.allowedTools }) : undefined;
  return {
    input: [
      patternGuard({
        layer: 'prompt_injection',
        patterns: PROMPT_INJECTION_PATTERNS,
        name: 'promptInjectionPatterns',
      }),
      pii,
      ...(tools ? [tools] : []),
    ],
    output: [
      pii,
      systemPromptLeakageGuard(options.canary !== undefined ? { canary: options.canary } : {}),
      ...(tools ? [tools] : []),
    ],
  };
}
