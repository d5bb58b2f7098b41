import {
  REDACTION_TYPES,
  detectSensitive,
  findSensitive,
  redact,
  type RedactOptions,
  type RedactResult,
  type RedactionType,
} from '@llmsec/core';

/**
 * Card numbers written as JSON numbers. A 16-digit numeric id passes the card checksum one time
 * in ten (104 of 1,000 random ids starting with 4), and as a JSON number (`{"order_id":
 * 4532015112830366}`) it cannot be redacted: a placeholder string in place of a number is not
 * JSON, so piiGuard's redact blocked the honest agent's whole answer (filter tool_arguments) and
 * detect recorded a false pii_detected. A model that writes a card number writes it in a
 * string; so in text that parses as a JSON object or array, a card candidate that is a whole
 * JSON number counts only with evidence: the key it is the value of (an array's numbers: the
 * array's key) or the text just before it (CONTEXT_CHARS) holds a card word (CARD_WORDS, as a
 * word part of snake, camel or kebab case). Cards in strings are read as before.
 *
 * Linear: the scan (redact or detectSensitive) as before; only when it found a card, one more
 * scan for the findings' places, one JSON.parse and one pass over the text; keys are read up
 * to KEY_CHARS, the text before a number up to CONTEXT_CHARS.
 */

/** Words (word parts, lower case) that make a number beside them a card. */
export const CARD_WORDS: ReadonlySet<string> = new Set([
  'card',
  'cards',
  'cardno',
  'cardnum',
  'cardnumber',
  'creditcard',
  'debitcard',
  'cc',
  'ccn',
  'ccnum',
  'pan',
  'credit',
  'debit',
  'payment',
  'payments',
  'pay',
  'acct',
  'visa',
  'mastercard',
  'amex',
]);

/** How many characters before a number are read for a card word. */
export const CONTEXT_CHARS = 48;
/** How much of a key is read for a card word. */
const KEY_CHARS = 64;

/** Word parts: a camelCase word's humps, runs of capitals, runs of digits; the rest separates. */
const WORD_PART = /[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+/g;

function namesCard(text: string): boolean {
  for (const m of text.matchAll(WORD_PART)) if (CARD_WORDS.has(m[0].toLowerCase())) return true;
  return false;
}

/** The window before `start`, from a word's start (a cut word, 'dis|card', is not read). */
function contextNamesCard(text: string, start: number): boolean {
  let from = Math.max(0, start - CONTEXT_CHARS);
  while (from > 0 && from < start && /[A-Za-z0-9]/.test(text[from - 1]!) && /[A-Za-z0-9]/.test(text[from]!))
    from++;
  return namesCard(text.slice(from, start));
}

/** Text that parses as a JSON object or array (what a tool call's arguments are). */
function jsonContainer(text: string): boolean {
  const first = /\S/.exec(text);
  if (first === null || (first[0] !== '{' && first[0] !== '[')) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

interface Frame {
  object: boolean;
  /** An object: its member's key read last; an array: the key it is the value of. */
  key: string | undefined;
}

/**
 * The starts of the JSON numbers (outside strings) in valid JSON `text` that have no card word
 * in their key or before them, among `starts` (candidate findings' starts).
 */
function numbersWithoutEvidence(text: string, starts: ReadonlySet<number>): Set<number> {
  const out = new Set<number>();
  const stack: Frame[] = [];
  let pending: string | undefined;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: to its closing quote (escapes skipped). A key when a ':' follows.
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      let k = j + 1;
      while (k < n && /\s/.test(text[k]!)) k++;
      if (text[k] === ':') pending = text.slice(i + 1, Math.min(j, i + 1 + KEY_CHARS));
      i = j + 1;
      continue;
    }
    const top = stack[stack.length - 1];
    if (c === 0x7b || c === 0x5b) {
      // { or [: it inherits the key it is the value of (an array's own key, for an array in one).
      stack.push({ object: c === 0x7b, key: top === undefined ? undefined : top.object ? pending : top.key });
      pending = undefined;
      i++;
      continue;
    }
    if (c === 0x7d || c === 0x5d) {
      stack.pop();
      i++;
      continue;
    }
    if (c === 0x3a && top !== undefined && top.object) {
      top.key = pending;
      i++;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && /[0-9eE.+-]/.test(text[j]!)) j++;
      // The finding's start: the number's first digit (a '-' is no part of a card).
      const start = c === 0x2d ? i + 1 : i;
      if (starts.has(start)) {
        const key = top === undefined ? undefined : top.key;
        if (!(key !== undefined && namesCard(key)) && !contextNamesCard(text, i)) out.add(start);
      }
      i = j;
      continue;
    }
    i++;
  }
  return out;
}

/**
 * The findings of one scan of `text` (findSensitive), less the card candidates that are JSON
 * numbers without evidence; undefined when none was left out (read the text as usual).
 */
function leftOut(text: string, options: RedactOptions | undefined) {
  const spans = findSensitive(text, options);
  const cards = new Set<number>();
  for (const s of spans) if (s.type === 'credit_card') cards.add(s.start);
  if (cards.size === 0 || !jsonContainer(text)) return undefined;
  const drop = numbersWithoutEvidence(text, cards);
  if (drop.size === 0) return undefined;
  return { spans, drop };
}

/** detectSensitive, JSON numbers without card evidence not read as cards. */
export function detectJsonAware(text: string, options?: RedactOptions): RedactionType[] {
  // The common case (no card) costs the one scan it did before.
  const types = detectSensitive(text, options);
  if (!types.includes('credit_card')) return types;
  const r = leftOut(text, options);
  if (r === undefined) return types;
  return typesOf(r.spans.filter((s) => !r.drop.has(s.start)).map((s) => s.type));
}

/**
 * redact, JSON numbers without card evidence kept as they are: the text between them is
 * redacted piece by piece (a number's neighbours are JSON punctuation, so no finding spans one),
 * each piece under what is left of the options' piiMaxChars.
 */
export function redactJsonAware(text: string, options?: RedactOptions): RedactResult {
  const whole = redact(text, options);
  if (!whole.types.includes('credit_card')) return whole;
  const r = leftOut(text, options);
  if (r === undefined) return whole;
  const seen: RedactionType[] = [];
  let out = '';
  let at = 0;
  const piece = (end: number) => {
    const cap = options?.piiMaxChars;
    const p = redact(
      text.slice(at, end),
      cap === undefined ? options : { ...options, piiMaxChars: Math.max(0, cap - at) },
    );
    out += p.text;
    seen.push(...p.types);
  };
  for (const s of r.spans) {
    if (!r.drop.has(s.start)) continue;
    piece(s.start);
    out += text.slice(s.start, s.end);
    at = s.end;
  }
  piece(text.length);
  return { text: out, types: typesOf(seen) };
}

function typesOf(found: readonly RedactionType[]): RedactionType[] {
  if (found.length === 0) return [];
  const seen = new Set(found);
  return REDACTION_TYPES.filter((t) => seen.has(t));
}
