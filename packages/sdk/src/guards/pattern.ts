import { isToolRole } from '../instrumentation/tool-role.ts';
import type { GuardContext, GuardDecision, GuardInput, InputGuard } from '../instrumentation/types.ts';

/**
 * Blocks prompts that match configured patterns (e.g. prompt-injection phrases). Only user
 * content is matched (not the operator's system prompt). The block reason names the pattern,
 * never the user's text.
 *
 * Input caps: a message up to `maxChars` is matched whole. A longer one is, by `oversize`:
 * `'window'` (default) matched in windows of `maxChars` that overlap by `overlapChars`, so the
 * time is linear in the message whatever the operator's regexes cost per window (a match longer
 * than `overlapChars` that spans a window edge is missed); or `'block'`: refused unread.
 */
export interface PatternGuardOptions {
  /** Recorded as guardrail_layer. */
  layer: string;
  /** Regular expressions, or strings matched case-insensitively as substrings. */
  patterns: Array<RegExp | string>;
  /** @default 'patternGuard' */
  name?: string;
  /** Characters a pattern is run over at once. @default 16384 */
  maxChars?: number;
  /** Overlap of consecutive windows: the longest match still found across a window edge. @default 512 */
  overlapChars?: number;
  /** What to do with a message longer than `maxChars`. @default 'window' */
  oversize?: 'window' | 'block';
}

export interface Compiled {
  label: string;
  re: RegExp;
}

export function patternGuard(options: PatternGuardOptions): InputGuard {
  if (typeof options?.layer !== 'string' || options.layer.length === 0)
    throw new TypeError('patternGuard: layer is required');
  if (!Array.isArray(options.patterns) || options.patterns.length === 0)
    throw new TypeError('patternGuard: patterns must be a non-empty array');
  const maxChars = options.maxChars ?? 16384;
  const overlapChars = options.overlapChars ?? 512;
  const oversize = options.oversize ?? 'window';
  if (!Number.isInteger(maxChars) || maxChars < 1)
    throw new TypeError(`patternGuard: maxChars must be a positive integer, got ${String(maxChars)}`);
  if (!Number.isInteger(overlapChars) || overlapChars < 0 || overlapChars >= maxChars) {
    throw new TypeError(
      `patternGuard: overlapChars must be an integer in [0, maxChars), got ${String(overlapChars)}`,
    );
  }
  if (oversize !== 'window' && oversize !== 'block')
    throw new TypeError(`patternGuard: oversize must be window or block, got ${String(oversize)}`);
  const compiled: Compiled[] = options.patterns.map((p) => {
    if (p instanceof RegExp)
      return { label: p.source, re: new RegExp(p.source, p.flags.replace('g', '').replace('y', '')) };
    if (typeof p === 'string' && p.length > 0)
      return { label: p, re: new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i') };
    throw new TypeError(`patternGuard: invalid pattern ${String(p)}`);
  });
  const step = maxChars - overlapChars;
  let joined = joinAll(compiled);

  /** The first pattern (in order) that matches `text`: the joined regex first, which rules out most texts in one run. */
  function firstIn(text: string): Compiled | undefined {
    if (joined !== undefined) {
      try {
        if (!joined.test(text)) return undefined;
      } catch {
        // V8 compiles a regex at its first run and only then finds it too large (tens of
        // thousands of patterns, each fine alone): the guard would throw on every call, and
        // the runner reads a throw as allow. From now on the patterns run one by one.
        joined = undefined;
      }
    }
    return compiled.find((c) => c.re.test(text));
  }

  function firstMatch(content: string): Compiled | undefined {
    if (content.length <= maxChars) return firstIn(content);
    for (let at = 0; at < content.length; at += step) {
      const window = content.slice(at, at + maxChars);
      const hit = firstIn(window);
      if (hit !== undefined) return hit;
      if (at + maxChars >= content.length) break;
    }
    return undefined;
  }

  return {
    name: options.name ?? 'patternGuard',
    layer: options.layer,
    check(input: GuardInput, _ctx: GuardContext): GuardDecision {
      // Tool results (role tool, ...) are matched too: the usual route of indirect injection.
      // The block names the message, so one in a tool result is recorded as the tool's. A user
      // message that matches as well is named instead: the user's doing comes first, or a
      // poisoned tool result kept in the history would pass every injection the user types
      // off as the tool's (and past the per-user rules). Only a block reads on after a match.
      const messages = input.messages;
      let toolHit: Extract<GuardDecision, { action: 'block' }> | undefined;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        if (m.role === 'system' || m.role === 'developer' || m.role === 'assistant') continue;
        if (toolHit !== undefined && isToolRole(m.role)) continue;
        let decision: Extract<GuardDecision, { action: 'block' }> | undefined;
        if (m.content.length > maxChars && oversize === 'block') {
          decision = {
            action: 'block',
            reason: `message longer than ${maxChars} characters (patternGuard input cap)`,
            message: i,
          };
        } else {
          const hit = firstMatch(m.content);
          if (hit !== undefined)
            decision = { action: 'block', reason: `matched pattern: ${hit.label.slice(0, 80)}`, message: i };
        }
        if (decision === undefined) continue;
        if (!isToolRole(m.role)) return decision;
        toolHit = decision;
      }
      return toolHit ?? allow();
    },
  };
}

/**
 * The joined regex is only built up to this many characters of source. V8 compiles a regex at
 * its first run, and for a joined one that cost grows faster than the number of patterns (10,000
 * patterns of `word<i>\s+\w+`: 0.7 s for the first check, 20,000: 3-4 s, against 0.04-0.17 s one
 * by one), paid inside a user's request; a large operator set runs one by one, as before.
 */
const MAX_JOINED_SOURCE = 16_384;

/**
 * All patterns as one regex, `(?:p1)|(?:p2)|…`, when that matches exactly when one of them
 * does (issue 13: one run over a prompt instead of one per pattern, 150-165 -> 63-70 ns for the
 * four default patterns on the bench's prompt): the same flags for all, and no backreference or
 * named group (joined, their numbers and names would refer to other groups). Otherwise
 * undefined, and each pattern runs alone as before. A match found is named by running the
 * patterns in order, so the reported pattern is the same. Exported for tests only.
 */
export function joinAll(compiled: readonly Compiled[]): RegExp | undefined {
  if (compiled.length < 2) return undefined;
  let size = 0;
  for (const c of compiled) size += c.re.source.length + 4;
  if (size > MAX_JOINED_SOURCE) return undefined;
  const flags = (compiled[0] as Compiled).re.flags;
  for (const c of compiled) if (c.re.flags !== flags || GROUP_REFERENCE.test(c.re.source)) return undefined;
  try {
    return new RegExp(compiled.map((c) => `(?:${c.re.source})`).join('|'), flags);
  } catch {
    return undefined; // the engine refuses the joined source (too many capture groups, say): one by one
  }
}

/** A backreference (\1-\9, \k<name>) or a named group, conservatively (an escaped backslash before a digit counts too). */
const GROUP_REFERENCE = /\\[1-9]|\\k<|\(\?<(?![=!])/;

/** patternGuard with plain keywords (case-insensitive substrings). */
export function keywordGuard(options: { layer: string; keywords: string[]; name?: string }): InputGuard {
  return patternGuard({
    layer: options.layer,
    patterns: options.keywords,
    name: options.name ?? 'keywordGuard',
  });
}

/** A small starter set of prompt-injection phrases (tune for your application). Linear-time patterns. */
export const PROMPT_INJECTION_PATTERNS: RegExp[] = [
  /ignore (all |any )?(the )?(previous|prior|above) (instructions|prompts?|rules)/i,
  /disregard (all |any )?(the )?(previous|prior|above|your) (instructions|rules)/i,
  /(reveal|print|show|repeat) (me )?(your|the) (system prompt|hidden instructions|initial instructions)/i,
  /you are now (in )?(developer|dan|jailbreak) mode/i,
];

/**
 * A fresh allow per call, not one shared frozen object: a host's wrapper may set fields on the
 * decision it gets (turn it into a block, say); on a frozen object that throws in strict mode
 * and the runner would read the throw as the guard failing, not as the block meant.
 */
function allow(): { action: 'allow' } {
  return { action: 'allow' };
}
