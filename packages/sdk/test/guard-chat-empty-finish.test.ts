import { describe, expect, it } from 'vitest';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';
import { chatChunk } from './fixtures/chat-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * `finish_reason: ""` on every chunk before the last (some OpenAI-compatible servers send an
 * empty string where OpenAI sends null; finish-reason.ts), through the real openai client against
 * the fake server, piiGuard redact. Before, "" read as the choice's finish: its held reasoning
 * was sent at the first chunk and closed, so the later pieces never reached the reader, and its
 * refusal went out piece by piece, each rewritten alone, so an address cut between two pieces
 * passed redact.
 */

const EMAIL = 'jane.doe@example.com';
const BASE = { id: 'chatcmpl-e', created: 1, model: 'local-model' };
/** Which field the pieces come in: set per test. */
let field: 'reasoning_content' | 'refusal' | 'arguments' = 'reasoning_content';
let text = '';

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  const chunk = (delta: unknown, finish: string): SseEvent => chatChunk(BASE, delta, finish, null);
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += 7) pieces.push(text.slice(i, i + 7));
  return {
    kind: 'sse',
    events: [
      chunk({ role: 'assistant', content: '' }, ''),
      ...pieces.map((p, i) =>
        chunk(
          field === 'arguments'
            ? {
                tool_calls: [
                  {
                    index: 0,
                    ...(i === 0 ? { id: 'call_1', type: 'function' } : {}),
                    function: { ...(i === 0 ? { name: 'send' } : {}), arguments: p },
                  },
                ],
              }
            : { [field]: p },
          '',
        ),
      ),
      ...(field === 'refusal' ? [] : [chunk({ content: 'Done.' }, '')]),
      chunk({}, 'stop'),
      { data: '[DONE]' },
    ],
  };
}

const h = useInstrHarness({ script });

async function joined(): Promise<string> {
  const c = piiOpenAI(h, 'redact');
  let out = '';
  const stream = await c.chat.completions.create({
    model: 'local-model',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
  });
  for await (const e of stream) {
    const d = e.choices[0]?.delta as Record<string, unknown> | undefined;
    const v =
      field === 'arguments'
        ? (d?.tool_calls as Array<{ function?: { arguments?: string } }> | undefined)?.[0]?.function
            ?.arguments
        : d?.[field];
    if (typeof v === 'string') out += v;
  }
  return out;
}

describe('a chat stream whose chunks say finish_reason ""', () => {
  it('redact delivers all of a clean reasoning, not its first piece alone', async () => {
    field = 'reasoning_content';
    text = 'The user says hello, so I will answer briefly and kindly.';
    expect(await joined()).toBe(text);
  });

  it('redact rewrites an address cut between reasoning pieces, the rest delivered', async () => {
    field = 'reasoning_content';
    text = `Send the note to ${EMAIL} today.`;
    expect(await joined()).toBe('Send the note to [REDACTED:email] today.');
  });

  it("redact delivers a tool call's arguments whole, rewritten, not their first piece alone", async () => {
    field = 'arguments';
    text = `{"to":"${EMAIL}","body":"See you at noon tomorrow."}`;
    expect(await joined()).toBe('{"to":"[REDACTED:email]","body":"See you at noon tomorrow."}');
  });

  it('redact rewrites an address cut between refusal pieces', async () => {
    field = 'refusal';
    text = `I cannot write to ${EMAIL} for you.`;
    expect(await joined()).toBe('I cannot write to [REDACTED:email] for you.');
  });
});
