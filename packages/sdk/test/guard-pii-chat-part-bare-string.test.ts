import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, readChat, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { contentReplyScript, partsOf } from './fixtures/chat-content-reply.ts';

/**
 * Chat content parts that are text themselves, not part objects: `content: ['write to
 * jane.doe@example.com']`, a card number as a number part. Not the API's shape, but an
 * application that shows the content (joined, or as a string) shows them. Before, only part
 * objects' `text` / `refusal` were read (chat-content-parts.ts textFields): these passed detect,
 * block and redact, plain and streamed. Now such a part is read in its place among the parts
 * (same cap, found as text), a rewrite written into the array as a string.
 */

const EMAIL = 'jane.doe@example.com';
const CARD = 4111111111111111;
const BASE = { id: 'chatcmpl-bare', created: 1, model: 'local-model' };

let whole: unknown[] = [];
let pieces: unknown[][] = [];

const script = contentReplyScript(BASE, () => ({ whole, pieces }));

const h = useInstrHarness({ script });
const params = { model: 'local-model', messages: [{ role: 'user' as const, content: 'hi' }] };

/** What an application that joins the parts shows. */
const shown = (parts: unknown[]): string => parts.map((p) => String(p)).join('');

interface Shape {
  name: string;
  whole: unknown[];
  pieces: unknown[][];
  type: string;
  redacted: string;
}

const SHAPES: Shape[] = [
  {
    name: 'string parts',
    whole: ['Here: ', `write to ${EMAIL}`, ' Bye.'],
    pieces: [['Here: '], [`write to ${EMAIL}`], [' Bye.']],
    type: 'email',
    redacted: 'Here: write to [REDACTED:email] Bye.',
  },
  {
    name: 'a number part',
    whole: ['Card: ', CARD, ' ok'],
    pieces: [['Card: '], [CARD], [' ok']],
    type: 'credit_card',
    redacted: 'Card: [REDACTED:credit_card] ok',
  },
];

function use(s: Shape): void {
  whole = s.whole;
  pieces = s.pieces;
}

describe.each([false, true])('chat content parts that are text themselves (streamed: %s)', (stream) => {
  describe.each(SHAPES)('$name', (s) => {
    it('detect reports it, found in the text', async () => {
      use(s);
      await readChat(h, 'detect', params, stream);
      await eventually(() => piiEvents(h).length > 0);
      const meta = piiEvents(h)[0]!.metadata as Record<string, unknown>;
      expect(meta).toMatchObject({ pii_types: [s.type], direction: 'output' });
      expect(meta.found_in).toBeUndefined();
    });

    it('block refuses the answer, none of it shown', async () => {
      use(s);
      const seen: unknown[] = [];
      await expect(readChat(h, 'block', params, stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
      const text = shown(partsOf(seen));
      expect(text).not.toContain('jane.doe');
      expect(text).not.toContain(String(CARD));
    });

    it('redact writes the rewrite into the array, strings in place', async () => {
      use(s);
      const parts = partsOf(await readChat(h, 'redact', params, stream));
      expect(shown(parts)).toBe(s.redacted);
      for (const p of parts) expect(typeof p).toBe('string');
    });
  });

  it('clean ones pass every mode as sent, a number part kept a number', async () => {
    const clean = [
      'nothing here ',
      42,
      ' nor here',
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
    ];
    whole = clean;
    pieces = [clean];
    for (const mode of ['detect', 'block', 'redact'] as PiiMode[]) {
      const parts = partsOf(await readChat(h, mode, params, stream));
      expect(parts).toEqual(clean);
    }
    expect(piiEvents(h)).toEqual([]);
  });
});
