import { ibanValid, luhnValid } from './checksums.ts';
import { DIGITS, hasDigit } from './triggers.ts';
import type { Detector } from './types.ts';

/**
 * Payment card and bank account numbers, accepted only when their check digits hold, so an
 * arbitrary 16-digit id is left alone 9 times in 10 and a mistyped IBAN always.
 */

const SEPARATORS = /[ -]/;

/**
 * Card numbers: 13–19 digits, unbroken or in printed groups (4-4-4-4, 4-6-5 for Amex, ...)
 * with one kind of separator. Major networks start with 2–6 (Mastercard 2-series, Amex and
 * Diners 3, Visa 4, Mastercard 5, Discover and UnionPay 6); excluding 0, 1, 7, 8 and 9 keeps
 * epoch-millisecond timestamps (`1732269600000`) and most ids out. A grouped number followed
 * by more digits (`4111 1111 1111 1111 12/25`) yields its longest valid prefix of groups.
 * The pattern wants 13 digits before it matches at all, so dates and prices fail in a step.
 */
const creditCard: Detector = {
  type: 'credit_card',
  trigger: hasDigit,
  needs: DIGITS,
  pattern: /(?<![A-Za-z0-9_.,+/-])[2-6]\d{3}(?:[ -]?\d){9,48}/g,
  accept: (m) => {
    if (!SEPARATORS.test(m)) return m.length >= 13 && m.length <= 19 && luhnValid(m);
    if (m.includes(' ') && m.includes('-')) return 0;
    const groups = m.split(SEPARATORS);
    if (groups[0]!.length !== 4) return 0;
    // Longest run of plausible groups (3–6 digits) after the first.
    let last = 0;
    while (last + 1 < groups.length && groups[last + 1]!.length >= 3 && groups[last + 1]!.length <= 6) last++;
    for (let k = last; k >= 1; k--) {
      const digits = groups.slice(0, k + 1).join('');
      if (digits.length < 13) break;
      if (digits.length <= 19 && luhnValid(digits)) return digits.length + k;
    }
    return 0;
  },
};

/**
 * IBANs (ISO 13616): country, two check digits, up to 30 upper-case alphanumerics, unbroken
 * or in groups of four. A group run may go on into the next word (`… 00 EUR`), so the longest
 * prefix of whole groups that passes the country length and mod-97 check is taken.
 */
const iban: Detector = {
  type: 'iban',
  trigger: hasDigit,
  needs: DIGITS,
  pattern: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}/g,
  accept: (m) => {
    const groups = m.split(' ');
    for (let k = groups.length; k >= 1; k--) {
      const compact = groups.slice(0, k).join('');
      if (compact.length < 15) break;
      if (ibanValid(compact)) return groups.slice(0, k).join(' ').length;
    }
    return 0;
  },
};

/** IBAN first: its digit groups must not be read as a card number. */
export const FINANCE_DETECTORS: readonly Detector[] = [iban, creditCard];
