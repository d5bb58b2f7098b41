import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, readChat, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A chat answer's content part whose `text` (or `refusal`) is not a string: an array, an object
 * (the Assistants API's `{value, annotations}` shape), a number. Not the API's shape, but a server
 * may send it, and an application that stringifies the part shows what is in it. Before, such a
 * part was neither read nor touched (chat-content-parts.ts): its address or card number passed
 * detect, block and redact, plain and streamed. Now it is read as its JSON text.
 */

const EMAIL = 'jane.doe@example.com';
const CARD = 4111111111111111;
const BASE = { id: 'chatcmpl-ns', created: 1, model: 'local-model' };

interface Shape {
  name: string;
  field: 'text' | 'refusal';
  value: unknown;
  pii: string;
}

const SHAPES: Shape[] = [
  { name: 'an array text', field: 'text', value: [`write to ${EMAIL}`], pii: 'email' },
  { name: 'an object text', field: 'text', value: { value: EMAIL, annotations: [] }, pii: 'email' },
  { name: 'a number refusal', field: 'refusal', value: CARD, pii: 'credit_card' },
];

/** The middle part: set per test. */
let middle: Record<string, unknown> = {};

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  const parts = [{ type: 'text', text: 'Here: ' }, middle, { type: 'text', text: ' Bye.' }];
  if (req.body.stream !== true)
    return { kind: 'json', body: chatCompletion(BASE, { content: parts }, { logprobs: null }) };
  const events: SseEvent[] = parts.map((p) => chatChunk(BASE, { content: [p] }, null, null));
  events.push(chatChunk(BASE, {}, 'stop', null), { data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });
const params = { model: 'local-model', messages: [{ role: 'user' as const, content: 'hi' }] };

type Part = Record<string, unknown>;

/** The parts a reader got: a complete answer's, or every streamed delta's in order. */
function partsOf(seen: unknown[]): Part[] {
  return (
    seen as Array<{ choices: Array<{ message?: { content?: unknown }; delta?: { content?: unknown } }> }>
  )
    .flatMap((e) => (e.choices[0]?.message ?? e.choices[0]?.delta)?.content ?? [])
    .filter((p): p is Part => typeof p === 'object');
}

async function read(mode: PiiMode, stream: boolean): Promise<Part[]> {
  return partsOf(await readChat(h, mode, params, stream));
}

/** What an application that stringifies each part's text or refusal shows. */
function shown(parts: Part[]): string {
  return parts
    .map((p) => p.text ?? p.refusal ?? '')
    .map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))
    .join('');
}

describe.each([false, true])('a content part whose text is not a string (streamed: %s)', (stream) => {
  describe.each(SHAPES)('$name', (shape) => {
    const set = () => (middle = { type: shape.field, [shape.field]: shape.value });

    it('detect reports what is in it', async () => {
      set();
      await read('detect', stream);
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: [shape.pii], direction: 'output' });
    });

    it('block refuses the answer, none of it shown', async () => {
      set();
      const seen: unknown[] = [];
      await expect(readChat(h, 'block', params, stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
      expect(shown(partsOf(seen))).not.toMatch(/jane\.doe|4111/);
    });

    it('redact replaces its value by the rewrite, the other parts kept', async () => {
      set();
      const parts = await read('redact', stream);
      const text = shown(parts);
      expect(text).toContain(`[REDACTED:${shape.pii}]`);
      expect(text).not.toMatch(/jane\.doe|4111/);
      expect(text.startsWith('Here: ')).toBe(true);
      expect(text.endsWith(' Bye.')).toBe(true);
      if (!stream) expect(typeof parts[1]![shape.field]).toBe('string');
    });
  });

  it('a clean one passes every mode as sent', async () => {
    middle = { type: 'text', text: { value: 'nothing here', n: 42 } };
    for (const mode of ['detect', 'block', 'redact'] as const) {
      const parts = await read(mode, stream);
      expect(parts).toContainEqual(middle);
      expect(shown(parts)).toBe('Here: {"value":"nothing here","n":42} Bye.');
    }
    expect(piiEvents(h)).toEqual([]);
  });
});
