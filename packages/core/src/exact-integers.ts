/**
 * Ids written as JSON numbers past 2^53 keep their digits. JSON.parse reads
 * `"user_id": 9007199254740993` as the nearest double, 9007199254740992, so the line's event
 * was user "9007199254740992" on the JSONL readers (replay, test-rules) while the detector,
 * reading the same id as an OTLP int64 attribute, keeps "9007199254740993" (its exact decimal
 * text): the same event in two groups, an alert on one path and none on the other, and two
 * distinct users (...993 and ...992 past the double's precision) one group on the JSONL path.
 *
 * Only on the rare path: a line whose text field parsed to an integer that is no safe integer.
 * Its digits are then read back from the line by one linear scan of its top level (the line is
 * valid JSON, JSON.parse took it; its length is capped by the line reader).
 */

/** The fields read as text when given as a number (trace and span ids excluded: no integer is a W3C id on the other path). */
const TEXT_FIELDS = [
  'event_id',
  'category',
  'user_id',
  'session_id',
  'conversation_id',
  'source_ip',
  'service',
  'description',
  'request_preview',
  'response_preview',
] as const;

/**
 * Replaces each text field of `raw` (the parsed `line`) that JSON.parse made an integer past
 * 2^53 with the integer's digits as written on the line. A number with a fraction or an
 * exponent (`1e16`) is left as parsed: only an integer literal has digits to keep, as OTLP's
 * int64 does. Costs a few property loads on a line without such a number.
 */
export function keepIntegerDigits(raw: Record<string, unknown>, line: string): void {
  let wanted: Set<string> | undefined;
  for (const key of TEXT_FIELDS) {
    const v = raw[key];
    if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v))
      (wanted ??= new Set()).add(key);
  }
  if (wanted === undefined) return;
  for (const [key, digits] of topLevelIntegers(line, wanted)) raw[key] = digits;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isNumberChar(c: number): boolean {
  // digits, '-', '+', '.', 'e', 'E'
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
}

/**
 * The integer literals of the top-level object's `wanted` keys, the last of a repeated key
 * winning as in JSON.parse (a later value that is no integer literal removes an earlier one).
 * One pass over `line`, which must be valid JSON: nested values and strings are walked over
 * (depth counted, escapes skipped), never parsed.
 */
function topLevelIntegers(line: string, wanted: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  const n = line.length;
  let depth = 0;
  let expectKey = false;
  let key: string | undefined;
  let i = 0;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c === QUOTE) {
      const start = i++;
      let escaped = false;
      while (i < n) {
        const d = line.charCodeAt(i);
        if (d === BACKSLASH) {
          escaped = true;
          i += 2;
        } else if (d === QUOTE) break;
        else i++;
      }
      i++; // past the closing quote
      if (depth === 1 && expectKey) {
        // A key with escapes (`"user\u005fid"`) is decoded; JSON.parse read it so.
        const text = line.slice(start, i);
        key = escaped ? (JSON.parse(text) as string) : text.slice(1, -1);
        expectKey = false;
      } else if (depth === 1 && key !== undefined) {
        out.delete(key); // a string value: not an integer any more
        key = undefined;
      }
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth === 1 && key !== undefined) {
        out.delete(key); // an object or array value: not an integer
        key = undefined;
      }
      depth++;
      expectKey = depth === 1 && c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */) {
      if (depth === 1) {
        expectKey = true;
        key = undefined;
      }
    } else if (depth === 1 && key !== undefined && isNumberChar(c)) {
      const start = i;
      while (i < n && isNumberChar(line.charCodeAt(i))) i++;
      const text = line.slice(start, i);
      if (wanted.has(key)) {
        if (/^-?[0-9]+$/.test(text)) out.set(key, text);
        else out.delete(key);
      }
      key = undefined;
      continue;
    } else if (depth === 1 && key !== undefined && (c === 0x74 || c === 0x66 || c === 0x6e)) {
      // true, false, null: not an integer
      out.delete(key);
      key = undefined;
    }
    i++;
  }
  return out;
}
