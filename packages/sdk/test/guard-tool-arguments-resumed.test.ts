import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { chatChunk } from './fixtures/chat-reply.ts';

/**
 * piiGuard redact on a chat stream whose tool calls interleave (chat-tool-arguments-rewrite.ts):
 * call 0's pieces went out whole, rewritten, when call 1 began, and call 0's later pieces as a
 * rewrite of their own at the finish. openai's ChatCompletionStream (and an application joining
 * the pieces by index) joins them into one call's arguments, so an address cut between the two
 * runs reached the tool whole (the end check, which joins them, reported it redacted). Now a
 * resumed call is sent as the rewrite of all its arguments past what went out; when a finding
 * crosses into what went out, the read fails (OutputBlockedError, filter `tool_arguments`).
 */

/** The calls' argument pieces in the order the stream sends them: [call index, piece]; index -1: a finish chunk. */
let pieces: Array<[number, string]> = [];

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  const base = { id: 'chatcmpl-t', created: 1, model: 'gpt-4o-mini' };
  const chunk = (delta: unknown, finish: string | null = null): SseEvent =>
    chatChunk(base, delta, finish, null);
  const named = new Set<number>();
  return {
    kind: 'sse',
    events: [
      chunk({ role: 'assistant', content: null }),
      ...pieces.map(([index, args]) => {
        if (index < 0) return chunk({}, 'tool_calls');
        const head = named.has(index) ? {} : { id: `call_${index}`, type: 'function' };
        const fn = named.has(index) ? { arguments: args } : { name: 'send_mail', arguments: args };
        named.add(index);
        return chunk({ tool_calls: [{ index, ...head, function: fn }] });
      }),
      chunk({}, 'tool_calls'),
      { data: '[DONE]' },
    ],
  };
}

const h = useInstrHarness({ script });

/** Each call's arguments joined by index (as ChatCompletionStream joins them), and the error the read ended with. */
async function read(): Promise<{ args: string[]; err: unknown }> {
  const c = piiOpenAI(h, 'redact');
  const stream = await c.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'mail Jane' }],
    stream: true,
  });
  const args: string[] = [];
  let err: unknown;
  try {
    for await (const chunk of stream)
      for (const tc of chunk.choices[0]?.delta?.tool_calls ?? [])
        args[tc.index] = (args[tc.index] ?? '') + (tc.function?.arguments ?? '');
  } catch (e) {
    err = e;
  }
  return { args, err };
}

describe('redact: a tool call whose arguments resume after another call began', () => {
  it('an address cut between its two runs is not delivered whole', async () => {
    pieces = [
      [0, '{"to":"jane.doe@'],
      [1, '{"to":"ops"}'],
      [0, 'example.com"}'],
    ];
    const { args, err } = await read();
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect((err as OutputBlockedError).filter).toBe('tool_arguments');
    expect(args.join('')).not.toContain('example.com');
  });

  it('pieces after a finish chunk are not delivered, with a second finish', async () => {
    pieces = [
      [0, '{"to":"jane.doe@'],
      [-1, ''],
      [0, 'example.com"}'],
    ];
    const { args, err } = await read();
    expect(err).toBeUndefined();
    expect(args.join('')).not.toContain('example.com');
  });

  it('clean runs join to the arguments sent', async () => {
    pieces = [
      [0, '{"to":"ops",'],
      [1, '{"to":"dev"}'],
      [0, '"cc":"qa"}'],
    ];
    const { args, err } = await read();
    expect(err).toBeUndefined();
    expect(args).toEqual(['{"to":"ops","cc":"qa"}', '{"to":"dev"}']);
  });

  it('a resumed run with an address of its own goes out rewritten', async () => {
    pieces = [
      [0, '{"to":"ops",'],
      [1, '{"to":"dev"}'],
      [0, '"cc":"jane.doe@example.com"}'],
    ];
    const { args, err } = await read();
    expect(err).toBeUndefined();
    expect(args).toEqual(['{"to":"ops","cc":"[REDACTED:email]"}', '{"to":"dev"}']);
  });
});
