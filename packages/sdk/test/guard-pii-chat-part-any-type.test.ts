import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, readChat, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { contentReplyScript, partsOf } from './fixtures/chat-content-reply.ts';

/**
 * Chat content parts that carry a `text` (or `refusal`) field under no `type` or a type other
 * than `text` / `refusal`: `{text}`, `{type: 'TEXT', text}`, `{type: 'output_text', text}` (the
 * Responses API's name), and a part carrying both fields. Not the API's shapes, but a reader
 * that shows any part's `text` shows them. Before, only `type: 'text'` / `'refusal'` parts were
 * read (chat-content-parts.ts): an address in these passed detect, block and redact, plain and
 * streamed. Now every part's `text`, then its `refusal`, is read whatever its type (same cap,
 * found as text; redact writes into the part, its type kept).
 */

const EMAIL = 'jane.doe@example.com';
const BASE = { id: 'chatcmpl-anytype', created: 1, model: 'local-model' };

interface Shape {
  name: string;
  /** A part with the given text, of this shape. */
  part: (text: string) => Record<string, unknown>;
}

const SHAPES: Shape[] = [
  { name: 'a part with no type', part: (text) => ({ text }) },
  { name: "a part typed 'TEXT'", part: (text) => ({ type: 'TEXT', text }) },
  { name: "a part typed 'output_text'", part: (text) => ({ type: 'output_text', text, annotations: [] }) },
  { name: 'a text part carrying a refusal too', part: (text) => ({ type: 'text', text: '', refusal: text }) },
];

/** The content of the answer: set per test. */
let whole: unknown[] = [];
let pieces: unknown[][] = [];

function useShape(s: Shape): void {
  whole = [s.part(`Here: write to ${EMAIL} Bye.`)];
  pieces = [[s.part('Here: ')], [s.part(`write to ${EMAIL}`)], [s.part(' Bye.')]];
}

const script = contentReplyScript(BASE, () => ({ whole, pieces }));

const h = useInstrHarness({ script });
const params = { model: 'local-model', messages: [{ role: 'user' as const, content: 'hi' }] };

/** What a reader that shows any part's text and refusal shows. */
function shown(parts: Array<Record<string, unknown>>): string {
  return parts.map((p) => `${String(p.text ?? '')}${String(p.refusal ?? '')}`).join('');
}

async function read(mode: PiiMode, stream: boolean): Promise<Array<Record<string, unknown>>> {
  return partsOf<Record<string, unknown>>(await readChat(h, mode, params, stream));
}

describe.each([false, true])('chat content parts of any type (streamed: %s)', (stream) => {
  describe.each(SHAPES)('$name', (s) => {
    it('detect reports the address, found in the text', async () => {
      useShape(s);
      await read('detect', stream);
      await eventually(() => piiEvents(h).length > 0);
      const meta = piiEvents(h)[0]!.metadata as Record<string, unknown>;
      expect(meta).toMatchObject({ pii_types: ['email'], direction: 'output' });
      expect(meta.found_in).toBeUndefined();
    });

    it('block refuses the answer, none of it shown', async () => {
      useShape(s);
      const seen: unknown[] = [];
      await expect(readChat(h, 'block', params, stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
      expect(shown(partsOf<Record<string, unknown>>(seen))).not.toContain('jane.doe');
    });

    it('redact rewrites it in the part, its type kept', async () => {
      useShape(s);
      const parts = await read('redact', stream);
      const text = shown(parts);
      expect(text).toBe('Here: write to [REDACTED:email] Bye.');
      const type = s.part('').type;
      for (const p of parts) expect(p.type).toBe(type);
    });
  });

  it('clean ones, and parts with no text field, pass every mode as sent', async () => {
    const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
    const clean = [{ text: 'nothing here' }, { type: 'TEXT', text: 'nor here' }, image];
    whole = clean;
    pieces = [clean];
    for (const mode of ['detect', 'block', 'redact'] as const) {
      const parts = await read(mode, stream);
      expect(parts).toEqual(clean);
    }
    expect(piiEvents(h)).toEqual([]);
  });
});
