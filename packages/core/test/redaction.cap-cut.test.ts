import { describe, expect, it } from 'vitest';
import { detectSensitive, findSensitive, redact } from '../src/index.ts';
import { PAST_CUT, scan } from '../src/redaction/engine.ts';
import type { Detector } from '../src/redaction/types.ts';

/**
 * piiMaxChars cutting through a token: the personal-data detectors read the text's first
 * piiMaxChars units, and a match that reaches the cut is settled by reading on past it (up to
 * PAST_CUT characters, engine.ts endPastCut). Before, such a match counted as read: a longer
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
