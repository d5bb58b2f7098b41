import type { GuardContext, GuardDecision, GuardInput, InputGuard } from '../instrumentation/types.ts';

/**
 * Blocks prompts that match configured patterns (e.g. prompt-injection phrases). Only user
 * content is matched (not the operator's system prompt). The block reason names the pattern,
 * never the user's text.
 */
export interface PatternGuardOptions {
  /** Recorded as guardrail_layer. */
  layer: string;
  /** Regular expressions, or strings matched case-insensitively as substrings. */
  patterns: Array<RegExp | string>;
  /** @default 'patternGuard' */
  name?: string;
}

export function patternGuard(options: PatternGuardOptions): InputGuard {
  if (typeof options?.layer !== 'string' || options.layer.length === 0) throw new TypeError('patternGuard: layer is required');
  if (!Array.isArray(options.patterns) || options.patterns.length === 0) throw new TypeError('patternGuard: patterns must be a non-empty array');
  const compiled = options.patterns.map((p) => {
    if (p instanceof RegExp) return { label: p.source, re: new RegExp(p.source, p.flags.replace('g', '').replace('y', '')) };
    if (typeof p === 'string' && p.length > 0) return { label: p, re: new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i') };
    throw new TypeError(`patternGuard: invalid pattern ${String(p)}`);
  });
  return {
    name: options.name ?? 'patternGuard',
    layer: options.layer,
    check(input: GuardInput, _ctx: GuardContext): GuardDecision {
      for (const m of input.messages) {
        if (m.role === 'system' || m.role === 'developer' || m.role === 'assistant') continue;
        for (const { label, re } of compiled) {
          if (re.test(m.content)) return { action: 'block', reason: `matched pattern: ${label.slice(0, 80)}` };
        }
      }
      return { action: 'allow' };
    },
  };
}

/** patternGuard with plain keywords (case-insensitive substrings). */
export function keywordGuard(options: { layer: string; keywords: string[]; name?: string }): InputGuard {
  return patternGuard({ layer: options.layer, patterns: options.keywords, name: options.name ?? 'keywordGuard' });
}

/** A small starter set of prompt-injection phrases (tune for your application). */
export const PROMPT_INJECTION_PATTERNS: RegExp[] = [
  /ignore (all |any )?(the )?(previous|prior|above) (instructions|prompts?|rules)/i,
  /disregard (all |any )?(the )?(previous|prior|above|your) (instructions|rules)/i,
  /(reveal|print|show|repeat) (me )?(your|the) (system prompt|hidden instructions|initial instructions)/i,
  /you are now (in )?(developer|dan|jailbreak) mode/i,
];
