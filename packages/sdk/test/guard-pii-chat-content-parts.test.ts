import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, readChat, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A chat answer whose `content` is an array of parts (chat-content-parts.ts), as some
 * OpenAI-compatible servers send it, through the real openai client against the fake server:
 * complete (`message.content`) and streamed (`delta.content`). Before, the output guards read
 * `content` only as a string: an address in a text or refusal part passed detect, block and redact.
 */

const EMAIL = 'jane.doe@example.com';
const BASE = { id: 'chatcmpl-p', created: 1, model: 'local-model' };
/** The parts' texts: set per test. Streamed, each is cut in pieces of 7, one part a chunk. */
let texts: Array<{ type: 'text' | 'refusal'; value: string }> = [];
/** Complete answers only: the texts joined as a string `content` instead of parts. */
let asString = false;

function part(t: { type: 'text' | 'refusal'; value: string }): Record<string, string> {
  return t.type === 'text' ? { type: 'text', text: t.value } : { type: 'refusal', refusal: t.value };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: chatCompletion(
        BASE,
        {
          content: asString
            ? texts.map((t) => t.value).join('')
            : [...texts.map(part), { type: 'image_url' }],
        },
        { logprobs: null },
      ),
    };
  const chunk = (delta: unknown, finish: string | null = null): SseEvent =>
    chatChunk(BASE, delta, finish, null);
  const events: SseEvent[] = [chunk({ role: 'assistant', content: [] })];
  for (const t of texts)
    for (let i = 0; i < t.value.length; i += 7)
      events.push(chunk({ content: [part({ type: t.type, value: t.value.slice(i, i + 7) })] }));
  events.push(chunk({}, 'stop'), { data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });

const params = { model: 'local-model', messages: [{ role: 'user' as const, content: 'hi' }] };

function read(mode: PiiMode, stream: boolean, seen: unknown[] = []): Promise<unknown[]> {
  return readChat(h, mode, params, stream, seen);
}

/** What a reader gets of each part kind: a complete answer's parts, or a stream's pieces joined. */
function delivered(seen: unknown[], stream: boolean): string[] {
  const out: string[] = [];
  const take = (parts: unknown) => {
    for (const p of (parts ?? []) as Array<Record<string, unknown>>) {
      const v = p.type === 'text' ? p.text : p.type === 'refusal' ? p.refusal : undefined;
      if (typeof v !== 'string') continue;
      if (stream && out.length > 0) out[out.length - 1] += v;
      else out.push(v);
    }
  };
  for (const e of seen as Array<{
    choices: Array<{ message?: { content?: unknown }; delta?: { content?: unknown } }>;
  }>)
    take(stream ? e.choices[0]?.delta?.content : e.choices[0]?.message?.content);
  return out;
}

describe('chat content as an array of parts is read by the output guards', () => {
  for (const stream of [false, true])
    for (const where of ['text', 'refusal'] as const) {
      const how = `a ${where} part${stream ? ', streamed' : ''}`;
      const setup = () => {
        texts = [
          { type: 'text', value: 'Here is the contact. ' },
          { type: where, value: `Write to ${EMAIL} for it.` },
        ];
      };

      it(`${how}: detect reports the address, found in the text`, async () => {
        setup();
        await read('detect', stream);
        await eventually(() => piiEvents(h).length > 0);
        const meta = piiEvents(h)[0]!.metadata as Record<string, unknown>;
        expect(meta).toMatchObject({ pii_types: ['email'], direction: 'output' });
        // Text alone: no tool_arguments / reasoning to name beside it (docs/formats.md).
        expect(meta.found_in).toBeUndefined();
      });

      it(`${how}: block refuses the answer, nothing of the address delivered first`, async () => {
        setup();
        const seen: unknown[] = [];
        await expect(read('block', stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
        expect(JSON.stringify(seen)).not.toMatch(/jane|\.doe/);
      });

      it(`${how}: redact rewrites it in the part, the array's shape kept`, async () => {
        setup();
        const seen = await read('redact', stream);
        expect(JSON.stringify(seen)).not.toMatch(/jane|\.doe/);
        const want = ['Here is the contact. ', 'Write to [REDACTED:email] for it.'];
        expect(delivered(seen, stream).join('')).toBe(want.join(''));
        if (!stream) {
          const content = (seen[0] as { choices: Array<{ message: { content: unknown[] } }> }).choices[0]!
            .message.content;
          expect(content).toHaveLength(3);
          expect(delivered(seen, false)).toEqual(want);
          expect(content[2]).toEqual({ type: 'image_url' });
        }
      });
    }

  it('the parts are one text under one maxChars, as the same text sent as a string', async () => {
    // Read one text per part, each under its own cap, an answer cut into many parts was
    // scanned in full; now the parts are read as a string content is (and as streamed parts are).
    texts = [
      { type: 'text', value: 'x '.repeat(40_000) },
      { type: 'text', value: `Write to ${EMAIL}.` },
    ];
    asString = true;
    const whole = (await read('redact', false))[0] as { choices: Array<{ message: { content: string } }> };
    asString = false;
    const parts = await read('redact', false);
    expect(delivered(parts, false).join('')).toBe(whole.choices[0]!.message.content);
  });

  it('a clean answer in parts passes every mode as sent', async () => {
    texts = [
      { type: 'text', value: 'Hello there. ' },
      { type: 'text', value: 'All good.' },
    ];
    for (const mode of ['detect', 'block', 'redact'] as const)
      for (const stream of [false, true])
        expect(delivered(await read(mode, stream), stream).join('')).toBe('Hello there. All good.');
  });
});
