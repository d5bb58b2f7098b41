import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, readChat, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { contentReplyScript, contentsOf } from './fixtures/chat-content-reply.ts';

/**
 * A chat answer whose `content` is neither a string nor an array of parts: one part object
 * (`{type: 'text', text}`, not in a list) or a number or boolean. Not the API's shape, but a
 * server may send it, and an application that shows the content shows what is in it (the
 * part's text; the value's JSON text). Before, such content was not read (openai-chat.ts read a
 * string or an array, chat-content-parts.ts): an address or card number in it passed detect,
 * block and redact, plain and streamed. Now a part object is read as a one-part array is (one
 * text, found as text; redact writes into the object, its shape kept), a number or boolean as
 * its JSON text (redact writes a string in its place).
 */

const EMAIL = 'jane.doe@example.com';
const CARD = 4111111111111111;
const BASE = { id: 'chatcmpl-obj', created: 1, model: 'local-model' };

interface Shape {
  name: string;
  /** The complete answer's content. */
  whole: unknown;
  /** The streamed deltas' contents, in order. */
  pieces: unknown[];
  pii: string;
}

const SHAPES: Shape[] = [
  {
    name: 'one text part object',
    whole: { type: 'text', text: `Here: write to ${EMAIL} Bye.` },
    pieces: ['Here: ', { type: 'text', text: `write to ${EMAIL}` }, ' Bye.'],
    pii: 'email',
  },
  {
    name: 'one refusal part object',
    whole: { type: 'refusal', refusal: `Here: write to ${EMAIL} Bye.` },
    pieces: ['Here: ', { type: 'refusal', refusal: `write to ${EMAIL}` }, ' Bye.'],
    pii: 'email',
  },
  { name: 'a number', whole: CARD, pieces: ['Here: ', CARD, ' Bye.'], pii: 'credit_card' },
];

/** The content of the answer: set per test. */
let shape: Pick<Shape, 'whole' | 'pieces'> = SHAPES[0]!;

const script = contentReplyScript(BASE, () => shape);

const h = useInstrHarness({ script });
const params = { model: 'local-model', messages: [{ role: 'user' as const, content: 'hi' }] };

/** What an application shows of a content: a part's text or refusal, any other value's JSON text. */
function shown(contents: unknown[]): string {
  return contents
    .map((c) => {
      const v =
        typeof c === 'object' && c !== null
          ? ((c as Record<string, unknown>).text ?? (c as Record<string, unknown>).refusal)
          : c;
      return typeof v === 'string' ? v : JSON.stringify(v);
    })
    .join('');
}

async function read(mode: PiiMode, stream: boolean): Promise<unknown[]> {
  return contentsOf(await readChat(h, mode, params, stream));
}

describe.each([false, true])(
  'chat content that is neither a string nor an array (streamed: %s)',
  (stream) => {
    describe.each(SHAPES)('$name', (s) => {
      it('detect reports what is in it, found in the text', async () => {
        shape = s;
        await read('detect', stream);
        await eventually(() => piiEvents(h).length > 0);
        const meta = piiEvents(h)[0]!.metadata as Record<string, unknown>;
        expect(meta).toMatchObject({ pii_types: [s.pii], direction: 'output' });
        expect(meta.found_in).toBeUndefined();
      });

      it('block refuses the answer, none of it shown', async () => {
        shape = s;
        const seen: unknown[] = [];
        await expect(readChat(h, 'block', params, stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
        expect(shown(contentsOf(seen))).not.toMatch(/jane\.doe|4111/);
      });

      it('redact rewrites it, a part object kept an object', async () => {
        shape = s;
        const contents = await read('redact', stream);
        const text = shown(contents);
        expect(text).toContain(`[REDACTED:${s.pii}]`);
        expect(text).not.toMatch(/jane\.doe|4111/);
        // The text around it kept (a complete number content is all of the answer).
        const around = stream || typeof s.whole === 'object';
        expect(text.startsWith('Here: ')).toBe(around);
        expect(text.endsWith(' Bye.')).toBe(around);
        const rewritten = stream ? contents[1] : contents[0];
        if (typeof s.whole === 'object')
          expect(rewritten).toMatchObject({ type: (s.whole as { type: string }).type });
        else expect(typeof rewritten).toBe('string');
      });
    });

    it('clean ones pass every mode as sent', async () => {
      const part = { type: 'text', text: 'nothing here' };
      for (const c of [part, true, 42]) {
        shape = { whole: c, pieces: ['Here: ', c] };
        for (const mode of ['detect', 'block', 'redact'] as const) {
          const contents = await read(mode, stream);
          expect(contents).toContainEqual(c);
        }
      }
      expect(piiEvents(h)).toEqual([]);
    });
  },
);
