/**
 * Shared cheap triggers. The engine evaluates each distinct trigger function once per text,
 * so detectors that share one (all the digit-based ones) pay for one scan between them.
 */

const DIGIT = /\d/;

/** What hasDigit needs (a detector's `needs`): /\d/ without the u flag is these ten. */
export const DIGITS = '0123456789';

export const hasDigit = (text: string): boolean => DIGIT.test(text);

export const has =
  (needle: string) =>
  (text: string): boolean =>
    text.includes(needle);
