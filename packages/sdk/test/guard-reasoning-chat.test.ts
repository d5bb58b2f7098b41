import { describe, expect, it } from 'vitest';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { emailModeCases } from './fixtures/email-mode-cases.ts';
import { PII_MODES, readChat, type PiiMode } from './fixtures/pii-guarded-client.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A chat completion's reasoning as OpenAI-compatible servers of reasoning models send it
 * (chat-reasoning.ts): `message.reasoning_content` / `delta.reasoning_content` (DeepSeek, vLLM)
 * and `message.reasoning` / `delta.reasoning` (OpenRouter, Groq, newer vLLM). The output guards
 * read it as the model's reasoning, through the real openai 7 client against the fake server,
 * plain and streamed (reasoning pieces cutting the address, then the answer's content). Before,
 * an address in it passed detect, block and redact.
 */

const EMAIL = 'jane.doe@example.com';
/** The reasoning text and the field it comes in: set per test. */
let reasoning = '';
let field: 'reasoning_content' | 'reasoning' = 'reasoning_content';
/** Choices in the answer (n), each with the same reasoning and answer. */
let choices = 1;
const ANSWER = 'Drafted.';

function pieces(): string[] {
  const out: string[] = [];
  for (let i = 0; i < reasoning.length; i += 7) out.push(reasoning.slice(i, i + 7));
  return out;
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  const all = Array.from({ length: choices }, (_, i) => i);
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: {
        id: 'chatcmpl-r',
        object: 'chat.completion',
        created: 1,
        model: 'deepseek-reasoner',
        choices: all.map((index) => ({
          index,
          message: { role: 'assistant', content: ANSWER, [field]: reasoning },
          logprobs: null,
          finish_reason: 'stop',
        })),
      },
    };
  const chunk = (index: number, delta: unknown, finish: string | null = null): SseEvent => ({
    data: {
      id: 'chatcmpl-r',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'deepseek-reasoner',
      choices: [{ index, delta, logprobs: null, finish_reason: finish }],
    },
  });
  // As DeepSeek streams it: the reasoning's pieces (content null), then the answer's (reasoning null).
  return {
    kind: 'sse',
    events: [
      ...all.map((i) => chunk(i, { role: 'assistant', content: null, [field]: '' })),
      ...pieces().flatMap((p) => all.map((i) => chunk(i, { content: null, [field]: p }))),
      ...all.map((i) => chunk(i, { content: ANSWER, [field]: null })),
      ...all.map((i) => chunk(i, {}, 'stop')),
      { data: '[DONE]' },
    ],
  };
}

const h = useInstrHarness({ script });

const params = { model: 'deepseek-reasoner', messages: [{ role: 'user' as const, content: 'mail Jane' }] };

function read(mode: PiiMode, stream: boolean, seen: unknown[] = []): Promise<unknown[]> {
  return readChat(h, mode, params, stream, seen);
}

/** The streamed reasoning pieces of each choice joined, as a reader joining them gets it. */
function joined(events: unknown[]): string[] {
  const out: string[] = [];
  for (const e of events as Array<{ choices: Array<{ index: number; delta?: Record<string, unknown> }> }>)
    for (const c of e.choices) {
      const r = c.delta?.[field];
      if (typeof r === 'string') out[c.index] = (out[c.index] ?? '') + r;
    }
  return out;
}

describe("a chat completion's reasoning is read by the output guards", () => {
  for (const f of ['reasoning_content', 'reasoning'] as const)
    for (const stream of [false, true])
      emailModeCases(
        h,
        `message.${f}${stream ? ', streamed' : ''}`,
        () => {
          field = f;
          choices = 1;
          reasoning = `The user wants the note sent to ${EMAIL}, so I will draft it.`;
        },
        (mode, seen) => read(mode, stream, seen),
        ['reasoning'],
      );

  for (const f of ['reasoning_content', 'reasoning'] as const)
    it(`redact, streamed (${f}): the pieces join to the rewrite, sent before the answer`, async () => {
      field = f;
      choices = 1;
      reasoning = `The user wants the note sent to ${EMAIL}, so I will draft it.`;
      const seen = await read('redact', true);
      expect(joined(seen)).toEqual(['The user wants the note sent to [REDACTED:email], so I will draft it.']);
      // The whole reasoning goes out in the chunk where the answer begins, not after it.
      const first = (seen as Array<{ choices: Array<{ delta?: Record<string, unknown> }> }>).findIndex(
        (e) => e.choices[0]?.delta?.content === ANSWER,
      );
      expect(joined(seen.slice(0, first + 1))).toEqual(joined(seen));
    });

  it('redact, streamed, n = 2: each choice gets its own reasoning rewritten', async () => {
    field = 'reasoning_content';
    choices = 2;
    reasoning = `Send it to ${EMAIL}.`;
    const want = 'Send it to [REDACTED:email].';
    expect(joined(await read('redact', true))).toEqual([want, want]);
  });

  for (const stream of [false, true])
    it(`a clean reasoning passes every mode as sent${stream ? ', streamed' : ''}`, async () => {
      field = 'reasoning_content';
      choices = 1;
      reasoning = 'The user wants a short note, so I will draft it.';
      for (const mode of PII_MODES) {
        const seen = await read(mode, stream);
        if (stream) expect(joined(seen)).toEqual([reasoning]);
        else
          expect(
            (seen[0] as { choices: Array<{ message: Record<string, unknown> }> }).choices[0]!.message[field],
          ).toBe(reasoning);
      }
    });
});
