import { DIGITS, has, hasDigit } from './triggers.ts';
import type { Detector } from './types.ts';

/**
 * Contact details. Phone detection is deliberately conservative: digit runs in prose are
 * mostly dates, times, prices, versions and order numbers, so only shapes that are hard to
 * mistake are taken: the international `+` form, North American numbers with separators and
 * a valid area code, and the common European national formats with a trunk `0`.
 */

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/** `+3.14159265`: a signed decimal, not a number with a dot separator. */
const SIGNED_DECIMAL = /^\+\d+\.\d+$/;

/** `@2x`, `@3x`: image-density suffixes in file names, not mail domains. */
const DENSITY_SUFFIX = /@\d{1,2}x\./i;

/**
 * RFC 5321 shapes, ASCII only: local part up to 64 characters, dot-separated domain labels
 * (1–63 characters, no leading or trailing hyphen), alphabetic TLD. `pkg@1.2.3` has no TLD.
 */
const email: Detector = {
  type: 'email',
  trigger: has('@'),
  needs: '@',
  pattern:
    /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g,
  accept: (m) => !DENSITY_SUFFIX.test(m),
};

/**
 * E.164 international numbers: `+`, country code (never 0), groups split by one space, dot or hyphen,
 * optionally a parenthesised group (`+44 (0)20 …`); 8 to 15 digits in all. Each digit run is
 * followed by a separator or the end, so there is one way to split the digits (no backtracking
 * blow-up). Not after a letter, digit or `+` (`UTC+0100`, `C++`), so zone offsets stay.
 */
const phoneInternational: Detector = {
  type: 'phone',
  trigger: has('+'),
  needs: '+',
  pattern:
    /(?<![A-Za-z0-9_+])\+[1-9]\d{0,14}(?:(?:[ .-]|[ .-]?\(\d{1,5}\)[ .-]?)\d{1,15}){0,7}(?![A-Za-z0-9_])/g,
  accept: (m) => {
    const n = countDigits(m);
    return n >= 8 && n <= 15 && !SIGNED_DECIMAL.test(m);
  },
};

/**
 * North American numbers: `(555) 123-4567`, `555-123-4567`, `555.123.4567`, optional leading
 * `1`. The area code cannot start with 0 or 1 (NANP), and both separators must be the same,
 * so `2026-11-22`, `123-456-7890`-like ids and `10.20.3000` stay.
 */
const phoneNorthAmerica: Detector = {
  type: 'phone',
  trigger: hasDigit,
  needs: DIGITS,
  pattern:
    /(?<![A-Za-z0-9_.+/-])(?:1[ .-]?)?(?:\([2-9]\d{2}\)[ ]?\d{3}[ .-]|[2-9]\d{2}([.-])\d{3}\1)\d{4}(?![A-Za-z0-9_]|[.-]\d)/g,
};

/** French style: `06 12 34 56 78`, `01.23.45.67.89` (ten digits in pairs, one separator). */
const phoneFrance: Detector = {
  type: 'phone',
  trigger: hasDigit,
  needs: DIGITS,
  pattern: /(?<![A-Za-z0-9_.,+/:-])0[1-9]([ .-])\d{2}(?:\1\d{2}){3}(?![A-Za-z0-9_]|[ .,/:-]?\d)/g,
};

/**
 * Trunk-prefix national numbers: `020 7946 0958`, `030 1234 5678` (three groups, one
 * separator) and `030 12345678`, `030/12345678`, `07700 900123` (area code + subscriber);
 * 9 to 12 digits. The area-code group has three or more digits, so dates (`01 12 2024`) stay.
 */
const phoneEurope: Detector = {
  type: 'phone',
  trigger: hasDigit,
  needs: DIGITS,
  pattern:
    /(?<![A-Za-z0-9_.,+/:-])0\d{2,4}(?:([ -])\d{3,4}\1\d{3,4}|[ /-]\d{5,8})(?![A-Za-z0-9_]|[ .,/:-]?\d)/g,
  accept: (m) => {
    const n = countDigits(m);
    return n >= 9 && n <= 12;
  },
};

export const CONTACT_DETECTORS: readonly Detector[] = [
  email,
  phoneInternational,
  phoneNorthAmerica,
  phoneFrance,
  phoneEurope,
];
