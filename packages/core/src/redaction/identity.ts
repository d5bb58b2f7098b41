import { DIGITS, hasDigit } from './triggers.ts';
import type { Detector } from './types.ts';

/**
 * US Social Security numbers. Unlabelled, only the dashed `AAA-GG-SSSS` form, with the SSA's
 * never-issued values excluded (area 000, 666, 900–999; group 00; serial 0000). After a label
 * (`SSN`, `social security number`) the spaced and unbroken forms are taken too.
 */
const ssnDashed: Detector = {
  type: 'us_ssn',
  trigger: hasDigit,
  needs: DIGITS,
  pattern: /(?<![A-Za-z0-9_.+/-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![A-Za-z0-9_]|[.-]\d)/g,
};

const SSN_LABEL = /ssn|social security/i;

const ssnLabelled: Detector = {
  type: 'us_ssn',
  trigger: (t) => SSN_LABEL.test(t),
  // Not the label's 's': the number after it is ASCII digits (\d without the u flag), so a text
  // without one has no finding here, and most English text has an 's' (issue 13: the label
  // regex ran on almost every clean prompt and answer; now only on those with a digit).
  needs: DIGITS,
  pattern:
    /(?<=\b(?:ssn|social security (?:number|no\.?))[ \t:#=]{1,4})(?!000|666|9\d\d)\d{3}([ -]?)(?!00)\d{2}\1(?!0000)\d{4}(?!\d)/gi,
};

export const IDENTITY_DETECTORS: readonly Detector[] = [ssnDashed, ssnLabelled];
