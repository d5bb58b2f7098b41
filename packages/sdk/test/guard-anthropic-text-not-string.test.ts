import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiAnthropic, piiEvents, type PiiMode } from './fixtures/pii-guarded-client.ts';
import {
  anthropicEvent,
  anthropicMessage,
  anthropicStream,
  textBlockEvents,
} from './fixtures/anthropic-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * An Anthropic text block whose `text` is not a string (an array, an object, a number), in a
 * complete answer and in a stream's `text_delta`. Not the API's shape, but a server may send it,
 * and an application that stringifies the text shows what is in it. Before, such a block or
 * delta was neither read nor touched (response-text.ts, the stream's observer and rewrite): its
 * address or card number passed detect, block and redact. Now it is read as its JSON text, as
 * chat content parts are (8f5d92a). Through @anthropic-ai/sdk against the fake server.
 */

const EMAIL = 'jane.doe@example.com';
const CARD = 4111111111111111;

interface Shape {
  name: string;
  value: unknown;
  pii: string;
}

const SHAPES: Shape[] = [
  { name: 'an array', value: [`write to ${EMAIL}`], pii: 'email' },
  { name: 'an object', value: { value: EMAIL }, pii: 'email' },
  { name: 'a number', value: CARD, pii: 'credit_card' },
];

/** The middle block's (the middle delta's) text: set per test. */
let middle: unknown = '';
/** Streamed: the middle text sent whole in its own block's content_block_start, not as a delta. */
let whole = false;

const BASE = { id: 'msg_ns', model: 'claude-haiku-4-5', usage: { input_tokens: 1, output_tokens: 1 } };

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path !== '/v1/messages') return undefined;
  const texts: unknown[] = ['Here: ', middle, ' Bye.'];
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: anthropicMessage(
        BASE,
        texts.map((text) => ({ type: 'text', text })),
      ),
    };
  const blocks = textBlockEvents(0, whole ? ['Here: ', ' Bye.'] : texts);
  if (whole)
    blocks.push(
      anthropicEvent('content_block_start', { index: 1, content_block: { type: 'text', text: middle } }),
      anthropicEvent('content_block_stop', { index: 1 }),
    );
  return { kind: 'sse', events: anthropicStream(BASE, blocks, 'end_turn', 4) };
}

const h = useInstrHarness({ script });
const ask = {
  model: 'claude-haiku-4-5',
  max_tokens: 50,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

/**
 * The texts a reader got: a complete answer's text blocks', or every streamed text_delta's in
 * order, pushed onto `seen` as they come (a blocked read leaves what was delivered).
 */
async function read(mode: PiiMode, stream: boolean, seen: unknown[] = []): Promise<unknown[]> {
  const c = piiAnthropic(h, mode);
  if (!stream) {
    const m = await c.messages.create(ask);
    for (const b of m.content as unknown as Array<{ type: string; text?: unknown }>)
      if (b.type === 'text') seen.push(b.text);
    return seen;
  }
  for await (const e of await c.messages.create({ ...ask, stream: true })) {
    const d = (e as { delta?: { type?: string; text?: unknown } }).delta;
    if (e.type === 'content_block_delta' && d?.type === 'text_delta') seen.push(d.text);
    if (e.type === 'content_block_start' && e.content_block.type === 'text' && e.index > 0)
      seen.push((e.content_block as { text: unknown }).text);
  }
  return seen;
}

/** What an application that stringifies each text shows. */
function shown(texts: unknown[]): string {
  return texts.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('');
}

describe.each([false, true])('an Anthropic text that is not a string (streamed: %s)', (stream) => {
  describe.each(SHAPES)('$name', (shape) => {
    it('detect reports what is in it', async () => {
      middle = shape.value;
      await read('detect', stream);
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: [shape.pii], direction: 'output' });
    });

    it('block refuses the answer, none of it shown', async () => {
      middle = shape.value;
      const seen: unknown[] = [];
      await expect(read('block', stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
      expect(shown(seen)).not.toMatch(/jane\.doe|4111/);
    });

    it('redact replaces it by the rewrite, the other texts kept', async () => {
      middle = shape.value;
      const texts = await read('redact', stream);
      const text = shown(texts);
      expect(text).toContain(`[REDACTED:${shape.pii}]`);
      expect(text).not.toMatch(/jane\.doe|4111/);
      expect(text.startsWith('Here: ')).toBe(true);
      expect(text.endsWith(' Bye.')).toBe(true);
      expect(texts.every((t) => typeof t === 'string')).toBe(true);
    });
  });

  it('a clean one passes every mode as sent', async () => {
    middle = { value: 'nothing here', n: 42 };
    for (const mode of ['detect', 'block', 'redact'] as const) {
      const texts = await read(mode, stream);
      expect(texts).toContainEqual(middle);
      expect(shown(texts)).toBe('Here: {"value":"nothing here","n":42} Bye.');
    }
    expect(piiEvents(h)).toEqual([]);
  });
});

describe('an Anthropic text block sent whole in a stream, its text not a string', () => {
  const run = async (mode: PiiMode, seen: unknown[] = []) => {
    middle = [`write to ${EMAIL}`];
    whole = true;
    try {
      return await read(mode, true, seen);
    } finally {
      whole = false;
    }
  };

  it('detect reports it', async () => {
    await run('detect');
    await eventually(() => piiEvents(h).length > 0);
    expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['email'], direction: 'output' });
  });

  it('block refuses before the block is shown', async () => {
    const seen: unknown[] = [];
    await expect(run('block', seen)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(shown(seen)).not.toMatch(/jane\.doe/);
  });

  it('redact writes the rewrite there as a string', async () => {
    const texts = await run('redact');
    expect(texts).toContain('["write to [REDACTED:email]"]');
  });
});
