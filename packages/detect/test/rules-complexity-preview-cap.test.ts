import { describe, expect, it } from 'vitest';
import { PREVIEW_MAX_CHARS } from '@llmsec/core';
import { block, brief, feed, MIN, recordingEngine, T0 } from './helpers.ts';

/**
 * escalating_complexity on blocks as the SDK sends them with previews on: `request_preview` is
 * the payload's first PREVIEW_MAX_CHARS (500) characters and `metadata.prompt_length` its whole
 * length. Read from the preview, every payload past 500 characters is 500: since a repeat stopped
 * being a step (a02b2a2), a jailbreak whose framing grows past 500 characters showed no step
 * there, and the rule could not fire on growth past the cap (100 300 600 1000 2000 were the
 * steps 100 300 500); with previews off (prompt_length only) the same blocks fired.
 */

const RULE = 'escalating_complexity';

/** An input block of a payload of `length` characters, with the SDK's capped preview. */
function sdkBlock(i: number, length: number, user = 'u1', previews = true) {
  const spec = block(
    T0 + i * MIN,
    user,
    'l1',
    previews ? 'x'.repeat(Math.min(length, PREVIEW_MAX_CHARS)) : undefined,
  );
  return { ...spec, metadata: { ...spec.metadata, prompt_length: length } };
}

describe('escalating_complexity reads the whole payload length, not the capped preview', () => {
  for (const previews of [true, false])
    it(`fires on payloads growing past the preview cap (previews ${previews ? 'on' : 'off'})`, () => {
      const { engine, alerts } = recordingEngine();
      feed(
        engine,
        [100, 300, 600, 1000, 2000].map((n, i) => sdkBlock(i, n, 'u1', previews)),
      );
      expect(brief(alerts, RULE)).toEqual([`${RULE}:firing:u1`]);
    });

  it('a payload resent at one length past the cap is still no step', () => {
    const { engine, alerts } = recordingEngine();
    feed(
      engine,
      [100, 300, 900, 900, 900, 900].map((n, i) => sdkBlock(i, n)),
    );
    expect(brief(alerts, RULE)).toEqual([]);
  });
});
