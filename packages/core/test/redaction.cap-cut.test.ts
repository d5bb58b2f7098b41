import { describe, expect, it } from 'vitest';
import { detectSensitive, findSensitive, redact, redactionPlaceholder } from '../src/index.ts';
import { PAST_CUT, scan } from '../src/redaction/engine.ts';
import type { Detector } from '../src/redaction/types.ts';

/**
 * piiMaxChars cutting through a token: the personal-data detectors find data that starts in
 * the text's first piiMaxChars units, reading on up to PAST_CUT characters past them (engine.ts
 * scan). Before, a match that reached the cut counted as read: a longer
 * token cut at the cap could be data it is not (a false finding, and a placeholder left the
 * token's rest beside it), and data the cap cut was redacted in part.
 */

const LEAD = 'Build tag: ';
const REST = ' and more text after it.'.repeat(20);

/** `text` capped right after its first `head`. */
function capAfter(text: string, head: string): number {
  return text.indexOf(head) + head.length;
}

describe('piiMaxChars: a match reaching the cap', () => {
  it('a token cut into an address-shaped head is no finding', () => {
    const text = `${LEAD}deploy@example.com-7f3a9c2e${REST}`;
    const piiMaxChars = capAfter(text, 'deploy@example.com');
    expect(findSensitive(text)).toEqual([]);
    expect(findSensitive(text, { piiMaxChars })).toEqual([]);
    expect(detectSensitive(text, { piiMaxChars })).toEqual([]);
    expect(redact(text, { piiMaxChars }).text).toBe(text);
  });

  it('a digit run cut into a card-shaped head is no finding', () => {
    // 16 digits that pass Luhn, then more: an id of 20 digits, no card.
    const text = `order 41111111111111112345 shipped${REST}`;
    const piiMaxChars = capAfter(text, '4111111111111111');
    expect(detectSensitive('order 4111111111111111 shipped')).toEqual(['credit_card']);
    expect(findSensitive(text)).toEqual([]);
    expect(findSensitive(text, { piiMaxChars })).toEqual([]);
  });

  it('an address wholly inside the cap, or ending at it with text after, is found', () => {
    const inside = `Mail jane.doe@example.com now.${REST}`;
    expect(redact(inside, { piiMaxChars: 40 }).text).toBe(`Mail [REDACTED:email] now.${REST}`);
    const atCap = `${LEAD}jane.doe@example.com ${REST}`;
    const piiMaxChars = capAfter(atCap, 'example.com');
    expect(findSensitive(atCap, { piiMaxChars })).toEqual([
      { start: LEAD.length, end: piiMaxChars, type: 'email' },
    ]);
  });

  it('an address the cap cuts is found whole (a finding may end past the cap)', () => {
    const text = `${LEAD}jane.doe@example.com ${REST}`;
    const piiMaxChars = capAfter(text, 'example.co');
    expect(redact(text, { piiMaxChars }).text).toBe(`${LEAD}[REDACTED:email] ${REST}`);
  });

  it('data the cap cuts into a head that is no match (a card, an SSN, an IBAN) is found whole too', () => {
    // Before, only a match of the head was read on past the cap: an address cut there was
    // found whole, but a card cut after 14 digits (no valid card) or an SSN after '123-45-67'
    // was no match at all, and passed redact and block beside it.
    for (const [data, cut, type] of [
      ['4111 1111 1111 1111', '4111 1111 1111 11', 'credit_card'],
      ['4111111111111111', '41111111111111', 'credit_card'],
      ['123-45-6789', '123-45-67', 'us_ssn'],
      ['DE89 3704 0044 0532 0130 00', 'DE89 3704 0044 0532 01', 'iban'],
      ['jane.doe@example.com', 'jane.doe@exam', 'email'],
    ] as const) {
      const text = `${LEAD}${data} ${REST}`;
      const piiMaxChars = capAfter(text, cut);
      expect(findSensitive(text, { piiMaxChars }), data).toEqual([
        { start: LEAD.length, end: LEAD.length + data.length, type },
      ]);
      expect(redact(text, { piiMaxChars }).text).toBe(`${LEAD}${redactionPlaceholder(type)} ${REST}`);
    }
    // Starting at the cap: not read, as before.
    const at = `${LEAD}4111111111111111 ${REST}`;
    expect(findSensitive(at, { piiMaxChars: LEAD.length })).toEqual([]);
  });

  it('a match still running PAST_CUT characters past the cap is unproven: not counted', () => {
    // No built-in personal-data pattern runs that long (an address is at most ~600 characters
    // by its shape, but its labels end far sooner): a detector of runs of x stands in.
    const xs: Detector = { type: 'email', trigger: () => true, pattern: /x+/g };
    const run = (past: number) => `${LEAD}${'x'.repeat(10 + past)} ${REST}`;
    const cap = LEAD.length + 10;
    expect(scan(run(PAST_CUT + 5), [xs], cap)).toEqual([]);
    // Ending within the read past the cap: counted, whole.
    expect(scan(run(PAST_CUT - 5), [xs], cap)).toEqual([
      { start: LEAD.length, end: cap + PAST_CUT - 5, type: 'email' },
    ]);
  });

  it('the text ending within PAST_CUT of the cap: read to its end, as uncapped', () => {
    const text = `${LEAD}jane.doe@example.com`;
    const piiMaxChars = capAfter(text, 'example.co');
    expect(findSensitive(text)).toHaveLength(1);
    expect(findSensitive(text, { piiMaxChars })).toEqual(findSensitive(text));
  });
});
