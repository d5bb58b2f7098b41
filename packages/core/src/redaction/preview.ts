import { PREVIEW_MAX_CHARS } from '../model.ts';
import { redact } from './redact.ts';
import type { RedactionType } from './types.ts';

/**
 * Previews: the redacted, truncated text that events may carry (events.md: at most 500
 * characters). Lengths are UTF-16 code units, as String.length counts and JSON consumers
 * expect.
 */

const ELLIPSIS = '\u2026';
const PLACEHOLDER_START = '[REDACTED:';

/**
 * The longest text a detector can fail to recognise because it was cut: every longer kind
 * (PEM bodies, JWTs, bearer tokens, long keys) is still matched on a prefix. See redactPreview.
 */
const UNRECOGNISED_TAIL = 512;

function normaliseMax(max: unknown): number {
  if (max === undefined) return PREVIEW_MAX_CHARS;
  if (typeof max !== 'number' || Number.isNaN(max) || max <= 0) return 0;
  return Math.floor(max);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * At most `max` UTF-16 code units. A cut text ends with `…` (counted in `max`); a surrogate
 * pair is never split (its high half is dropped), nor is a `[REDACTED:…]` placeholder.
 */
export function truncatePreview(text: string, max: number = PREVIEW_MAX_CHARS): string {
  if (typeof text !== 'string') return '';
  const limit = normaliseMax(max);
  if (text.length <= limit) return text;
  if (limit === 0) return '';
  let end = limit - 1;
  // A placeholder cut in half would read as a garbled secret: cut before it instead.
  const open = end > 0 ? text.lastIndexOf(PLACEHOLDER_START, end - 1) : -1;
  if (open >= 0 && text.indexOf(']', open) >= end) end = open;
  // The cut may separate a pair; a lone high surrogate left before it would be as bad.
  while (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) end--;
  return text.slice(0, end) + ELLIPSIS;
}

export interface RedactedPreview {
  preview: string;
  /** Types redacted in the part of the text the preview was taken from. */
  types: RedactionType[];
}

/**
 * Redacts, then truncates, so that a secret straddling the cut is not half shown. Never
 * throws (a non-string gives an empty preview) and never returns more than `max` units.
 *
 * Only a window of the text is redacted when the text is long: the first max + 2 * 512
 * units. A finding cut by the window's end is at most 512 units of unrecognised text, which
 * stays in the redacted window's last 512 units; when those lie past `max`, the preview is
 * safe. When earlier findings shrank the window so much that they do not (a PEM key, say),
 * the whole text is redacted instead.
 */
export function redactPreview(text: string, max: number = PREVIEW_MAX_CHARS): RedactedPreview {
  try {
    if (typeof text !== 'string') return { preview: '', types: [] };
    const limit = normaliseMax(max);
    const window = limit + 2 * UNRECOGNISED_TAIL;
    if (text.length > window) {
      const partial = redact(text.slice(0, window));
      if (partial.text.length - UNRECOGNISED_TAIL >= limit) {
        return { preview: truncatePreview(partial.text, limit), types: partial.types };
      }
    }
    const full = redact(text);
    return { preview: truncatePreview(full.text, limit), types: full.types };
  } catch {
    // A preview is optional; leaking the unredacted text is not.
    return { preview: '', types: [] };
  }
}
