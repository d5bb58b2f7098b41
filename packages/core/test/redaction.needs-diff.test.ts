import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTACT_DETECTORS } from '../src/redaction/contact.ts';
import { PAST_CUT } from '../src/redaction/engine.ts';
import { FINANCE_DETECTORS } from '../src/redaction/finance.ts';
import { IDENTITY_DETECTORS } from '../src/redaction/identity.ts';
import { NETWORK_DETECTORS } from '../src/redaction/network.ts';
import { findSensitive, redact } from '../src/redaction/redact.ts';
import { SECRET_DETECTORS } from '../src/redaction/secrets.ts';
import {
  REDACTION_TYPES,
  isSecretType,
  redactionPlaceholder,
  type Detector,
  type RedactionType,
} from '../src/redaction/types.ts';
import * as F from './redaction.fixtures.ts';

/**
 * Review of issue 13's `needs` fast path (b0864ea, 4e04b14): the public redact / findSensitive
 * must find exactly what c4ccdf8's scan found (every trigger run, copied below), for every
 * `types` subset and `piiMaxChars`, on texts built from what each detector matches, its
 * look-alikes (case folds, fullwidth and other Unicode digits and separators), and texts whose
 * only finding sits at either side of the 1,024-character limit of the fast path.
 */

interface Finding {
  start: number;
  end: number;
  type: RedactionType;
}

// ---- c4ccdf8's scan, as it was (trigger plan keyed by list, every trigger run) ----
function firstEndingAfter(sorted: readonly Finding[], start: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.end <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
function overlaps(sorted: readonly Finding[], start: number, end: number): boolean {
  const i = firstEndingAfter(sorted, start);
  return i < sorted.length && sorted[i]!.start < end;
}
function merge(a: readonly Finding[], b: readonly Finding[]): Finding[] {
  const out: Finding[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(a[i]!.start <= b[j]!.start ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}
function oldScan(text: string, detectors: readonly Detector[], piiMaxChars = Infinity): Finding[] {
  let found: Finding[] = [];
  const triggers: Array<Detector['trigger']> = [];
  const slot = detectors.map((d) => {
    let k = triggers.indexOf(d.trigger);
    if (k < 0) k = triggers.push(d.trigger) - 1;
    return k;
  });
  // The cap rule as the engine has it (engine.ts scan: read PAST_CUT past the cap, matches
  // starting before it), the same in both scans, so the comparison is of the needs fast path alone.
  const capped = piiMaxChars < text.length;
  const cap = capped ? Math.max(0, Math.floor(piiMaxChars)) : text.length;
  const head = capped && cap + PAST_CUT < text.length ? text.slice(0, cap + PAST_CUT) : text;
  const fired = new Uint8Array(triggers.length);
  for (let d = 0; d < detectors.length; d++) {
    const detector = detectors[d]!;
    const k = slot[d]!;
    if (fired[k] === 0) fired[k] = triggers[k]!(text) ? 1 : 2;
    if (fired[k] !== 1) continue;
    const secret = isSecretType(detector.type);
    const subject = secret ? text : head;
    const limit = secret ? text.length : cap;
    const mine: Finding[] = [];
    const re = detector.pattern;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(subject)) !== null) {
      const match = m[0];
      if (m.index >= limit) break;
      if (match.length === 0) {
        re.lastIndex++;
        continue;
      }
      let length = match.length;
      if (detector.accept) {
        const verdict = detector.accept(match, subject, m.index);
        if (verdict === false || verdict === 0) continue;
        if (typeof verdict === 'number' && verdict !== length) {
          length = verdict;
          re.lastIndex = m.index + length;
        }
      }
      const start = m.index;
      const end = start + length;
      if (end === subject.length && subject !== text) continue;
      if (!overlaps(found, start, end)) mine.push({ start, end, type: detector.type });
    }
    re.lastIndex = 0;
    if (mine.length > 0) found = found.length === 0 ? mine : merge(found, mine);
  }
  return found;
}
/** redact.ts's priority order at c4ccdf8. */
const ALL: readonly Detector[] = [
  ...SECRET_DETECTORS,
  ...CONTACT_DETECTORS.filter((d) => d.type === 'email'),
  ...FINANCE_DETECTORS,
  ...IDENTITY_DETECTORS,
  ...NETWORK_DETECTORS,
  ...CONTACT_DETECTORS.filter((d) => d.type === 'phone'),
];
function oldSelect(types: readonly RedactionType[] | undefined): readonly Detector[] {
  return types === undefined ? ALL : ALL.filter((d) => types.includes(d.type));
}
function oldRedact(text: string, types: readonly RedactionType[] | undefined, piiMaxChars?: number) {
  const seen = new Set<RedactionType>();
  let current = text;
  for (let pass = 0; pass < 4; pass++) {
    const findings = oldScan(current, oldSelect(types), piiMaxChars);
    if (findings.length === 0) break;
    for (const f of findings) seen.add(f.type);
    let out = '';
    let at = 0;
    for (const f of findings) {
      out += current.slice(at, f.start) + redactionPlaceholder(f.type);
      at = f.end;
    }
    current = out + current.slice(at);
  }
  return { text: current, types: REDACTION_TYPES.filter((t) => seen.has(t)) };
}
// ---- end of c4ccdf8's code ----

/** Values each detector matches, and look-alikes a fast path could misjudge. */
const DATA = [
  F.OPENAI_PROJECT,
  F.OPENAI_LEGACY,
  F.ANTHROPIC_KEY,
  F.GITHUB_CLASSIC,
  F.GITHUB_FINE,
  F.SLACK_BOT,
  F.GOOGLE_KEY,
  F.AWS_LONG_TERM,
  F.AWS_TEMPORARY,
  F.JWT_HS256,
  F.JWT_UNSIGNED,
  F.PEM_EC,
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA',
  'Authorization: BEARER xyz',
  'BEARER 9F8E7D6C5C4A39281706', // no lower-case b anywhere
  'bEaReR 9f8e7d6c5b4a39281706',
  'SSN 123 45 6789',
  'ssn: 123456789',
  'Social Security No. 123-45-6789',
  'SOCIAL SECURITY NUMBER 078051120',
  'jane.doe@example.com',
  'a+b@sub.example.co.uk',
  '+44 20 7946 0958',
  '+1 (415) 555-0132',
  '(415) 555-0132',
  '415-555-0132',
  '1 415.555.0132',
  '01 23 45 67 89',
  '030 1234 5678',
  '0171/1234567',
  '4111 1111 1111 1111',
  '4111-1111-1111-1111',
  '4111111111111111',
  'DE89 3704 0044 0532 0130 00',
  'GB82WEST12345698765432',
  '123-45-6789',
  '192.168.1.20',
  '8.8.8.8',
  '2001:db8::8a2e:370:7334',
  '::ffff:8.8.4.4',
  'dead:beef::cafe',
  'fe80::1',
];
const LOOKALIKES = [
  'ſſn 123-45-6789', // long s: /i without u does not fold it to s
  'ſocial ſecurity 123456789',
  'KEY', // Kelvin sign
  'ıp',
  'İ',
  '４１１１ １１１１ １１１１ １１１１', // fullwidth digits
  '١٢٣-٤٥-٦٧٨٩', // Arabic-Indic digits
  '415\u2013555\u20130132', // en dash
  '415\u00a0555\u00a00132', // NBSP
  'jane＠example.com', // fullwidth @
  'jane﹫example.com', // small commercial at
  '＋44 20 7946 0958', // fullwidth +
  '2001：db8：：1', // fullwidth colon
  'ｓｋ－ant－', // fullwidth
  'eyＪhbGciOiJIUzI1NiJ9.x',
  'ghp＿abc',
  'ＡKIAIOSFODNN7EXAMPLE',
  '😀',
  '\ud83d',
  '\ude00',
  ' ',
  '\n',
  'word',
  '-',
  '_',
  ':',
  '@',
  '+',
  '.',
  '0',
];
const piece = fc.constantFrom(...DATA, ...LOOKALIKES);
const short = fc.array(piece, { maxLength: 10 }).map((p) => p.join(''));
/** Filler, then pieces ending at a chosen length near the fast path's 1,024-character limit. */
const atLimit = fc
  .record({
    tail: fc.array(piece, { minLength: 1, maxLength: 3 }).map((p) => p.join('')),
    length: fc.integer({ min: 1018, max: 1030 }),
    filler: fc.constantFrom('a', ' ', '😀', 'é', 'word '),
  })
  .map(({ tail, length, filler }) => {
    let pad = '';
    while (pad.length + tail.length < length) pad += filler;
    return (pad + tail).slice(-Math.max(length, tail.length));
  });
const types = fc.option(fc.subarray([...REDACTION_TYPES]), { nil: undefined });
const cap = fc.option(fc.constantFrom(0, 1, 16, 64, 1023, 1024, 1025, 4096), { nil: undefined });

describe('redaction needs against c4ccdf8', () => {
  it('findSensitive and redact equal c4ccdf8 on short texts, for every types subset and cap', () => {
    fc.assert(
      fc.property(short, types, cap, (t, ty, c) => {
        const options = {
          ...(ty === undefined ? {} : { types: ty }),
          ...(c === undefined ? {} : { piiMaxChars: c }),
        };
        expect(findSensitive(t, options)).toEqual(oldScan(t, oldSelect(ty), c));
        expect(redact(t, options)).toEqual(oldRedact(t, ty, c));
      }),
      { numRuns: 3000 },
    );
  });

  it('equal c4ccdf8 with the finding at either side of the 1,024-character limit', () => {
    fc.assert(
      fc.property(atLimit, types, cap, (t, ty, c) => {
        const options = {
          ...(ty === undefined ? {} : { types: ty }),
          ...(c === undefined ? {} : { piiMaxChars: c }),
        };
        expect(findSensitive(t, options)).toEqual(oldScan(t, oldSelect(ty), c));
      }),
      { numRuns: 1500 },
    );
  });

  it('each value alone, at the end of 1,023 to 1,025 characters, is found as c4ccdf8 found it', () => {
    for (const value of [...DATA, ...LOOKALIKES]) {
      for (const length of [value.length, 1023, 1024, 1025]) {
        for (const filler of ['a', '😀']) {
          let pad = '';
          while (pad.length + value.length < length) pad += filler;
          const t = (pad + value).slice(-Math.max(length, value.length));
          expect(findSensitive(t), JSON.stringify(t.slice(-60))).toEqual(oldScan(t, ALL));
        }
      }
    }
  });
});
