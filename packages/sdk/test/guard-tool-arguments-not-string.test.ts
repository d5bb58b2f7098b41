import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, readChat, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A chat tool call whose `function.arguments` is not a string: an object (some servers send the
 * arguments parsed), an array, a number. Not the API's shape (a JSON string), but an application
 * that stringifies them runs the tool with what is in them. Before, such arguments were neither
 * read nor touched (textSlot, the stream accumulator and the redact stream took strings only):
 * an address or card number in them passed detect, block and redact, plain and streamed. Now
 * they are read as their JSON text, as Anthropic's tool_use.input is.
 */

const EMAIL = 'jane.doe@example.com';
const CARD = 4111111111111111;
const BASE = { id: 'chatcmpl-tans', created: 1, model: 'local-model' };

interface Shape {
  name: string;
  value: unknown;
  pii: string;
}

const SHAPES: Shape[] = [
  { name: 'an object', value: { to: EMAIL, body: 'hi' }, pii: 'email' },
  { name: 'an array', value: [`mail ${EMAIL}`], pii: 'email' },
  { name: 'a number', value: CARD, pii: 'credit_card' },
];

/** The call's arguments: set per test. */
let args: unknown = '';

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  const call = { id: 'call_1', type: 'function', function: { name: 'send', arguments: args } };
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: chatCompletion(BASE, { content: null, tool_calls: [call] }, { finish_reason: 'tool_calls' }),
    };
  const events: SseEvent[] = [
    chatChunk(BASE, {
      role: 'assistant',
      content: null,
      tool_calls: [{ index: 0, ...call, function: { name: 'send', arguments: '' } }],
    }),
    chatChunk(BASE, { tool_calls: [{ index: 0, function: { arguments: args } }] }),
    chatChunk(BASE, {}, 'tool_calls'),
    { data: '[DONE]' },
  ];
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });
const params = { model: 'local-model', messages: [{ role: 'user' as const, content: 'hi' }] };

interface Call {
  function?: { arguments?: unknown };
}

/** The arguments a reader got: a complete answer's, or every streamed piece in order. */
function argsOf(seen: unknown[]): unknown[] {
  return (
    seen as Array<{ choices: Array<{ message?: { tool_calls?: Call[] }; delta?: { tool_calls?: Call[] } }> }>
  )
    .flatMap((e) => (e.choices[0]?.message ?? e.choices[0]?.delta)?.tool_calls ?? [])
    .map((c) => c.function?.arguments)
    .filter((a) => a !== undefined && a !== '');
}

/** What an application that stringifies each piece of the arguments runs the tool with. */
function shown(pieces: unknown[]): string {
  return pieces.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('');
}

async function read(mode: PiiMode, stream: boolean): Promise<unknown[]> {
  return argsOf(await readChat(h, mode, params, stream));
}

describe.each([false, true])('tool call arguments that are not a string (streamed: %s)', (stream) => {
  describe.each(SHAPES)('$name', (shape) => {
    it('detect reports what is in them', async () => {
      args = shape.value;
      await read('detect', stream);
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: [shape.pii], direction: 'output' });
    });

    it('block refuses the answer, none of them shown', async () => {
      args = shape.value;
      const seen: unknown[] = [];
      await expect(readChat(h, 'block', params, stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
      expect(shown(argsOf(seen))).not.toMatch(/jane\.doe|4111/);
    });

    it('redact writes the rewrite as JSON text, or blocks when it is not JSON', async () => {
      args = shape.value;
      if (typeof shape.value === 'number') {
        // A placeholder in place of a number is no JSON: blocked, as for string arguments.
        const seen: unknown[] = [];
        await expect(readChat(h, 'redact', params, stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
        expect(shown(argsOf(seen))).not.toMatch(/4111/);
        return;
      }
      const pieces = await read('redact', stream);
      expect(pieces.every((p) => typeof p === 'string')).toBe(true);
      const text = pieces.join('');
      expect(text).not.toMatch(/jane\.doe/);
      expect(JSON.parse(text)).toEqual(
        JSON.parse(JSON.stringify(shape.value).replace(EMAIL, '[REDACTED:email]')),
      );
    });
  });

  it('clean ones pass every mode as sent', async () => {
    args = { to: 'the team', n: 42 };
    for (const mode of ['detect', 'block', 'redact'] as const) {
      const pieces = await read(mode, stream);
      // Redact keeps clean arguments back until the finish and sends them whole: as a string.
      if (mode === 'redact' && stream)
        expect(pieces.map((p) => (typeof p === 'string' ? JSON.parse(p) : p))).toEqual([args]);
      else expect(pieces).toEqual([args]);
    }
    expect(piiEvents(h)).toEqual([]);
  });
});
