import { redact } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import {
  readableJson,
  restoreEscapes,
  textSlot,
  type ArgumentSlot,
} from '../src/instrumentation/tool-arguments.ts';

/**
 * readableJson / restoreEscapes (tool-arguments.ts): the letters of `\n`-like escapes read as
 * spaces and put back in a rewrite, in order. A custom tool's free text (not JSON) can hold a
 * backslash before a space of its own (a shell path `My\ Documents`): it must not take the place
 * of an escape's letter.
 */

function rewriteSlot(raw: string): string {
  const holder: Record<string, unknown> = { input: raw };
  const slots: ArgumentSlot[] = [];
  textSlot(holder, 'input', slots);
  slots[0]!.write(redact(slots[0]!.read).text);
  return holder.input as string;
}

describe('tool-call argument escapes', () => {
  it('a free-text input with its own backslash-space and a \\n escape is redacted in place', () => {
    const raw = 'cd My\\ Documents && printf "a\\nb" && mail jane.doe@example.com';
    expect(rewriteSlot(raw)).toBe('cd My\\ Documents && printf "a\\nb" && mail [REDACTED:email]');
  });

  it('JSON: the letters come back in order around placeholders; the length of the read is kept', () => {
    const raw = JSON.stringify({ body: 'a\n\tjane.doe@example.com\r\nb\\n', x: 'c\fd\b' });
    expect(readableJson(raw)).toHaveLength(raw.length);
    expect(JSON.parse(rewriteSlot(raw))).toEqual({ body: 'a\n\t[REDACTED:email]\r\nb\\n', x: 'c\fd\b' });
  });

  it('a rewrite that lost an escape is not placed (the caller blocks)', () => {
    const raw = '{"a":"x\\ny"}';
    expect(restoreEscapes(raw, '{"a":"x[REDACTED:email]"}')).toBeUndefined();
  });
});
