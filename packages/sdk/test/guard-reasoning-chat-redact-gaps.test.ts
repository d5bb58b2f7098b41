import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, readChat } from './fixtures/pii-guarded-client.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';

/**
 * piiGuard redact on a chat completion's reasoning (chat-reasoning.ts), two ways the address
 * still reached the application (real openai client against the fake server):
 *
 * - Logprobs. vLLM and SGLang give the tokens of the whole output, the reasoning's too, in
 *   `choices[].logprobs.content` (a complete answer's, and each streamed chunk's own tokens):
 *   the reasoning was rewritten and its tokens went out as sent. Now a choice whose reasoning
 *   the guard changed, and a chunk that carried a reasoning piece (delivered ''), lose their
 *   logprobs, as for the answer's text and a refusal (logprobs.ts).
 * - Reasoning resumed after the answer began (a server interleaving them): the first run of
 *   pieces went out whole at the first answer chunk, the next run as a rewrite of its own, so
 *   an address cut between the two runs passed redact whole (the end check, which joins them,
 *   reported it). Now a resumed run is kept to the choice's finish and sent as the rewrite of the
 *   whole reasoning less what went out; when a finding crosses into what went out (the rewrite
 *   no longer begins with it), the rest is not sent: the read fails (OutputBlockedError, filter
 *   `reasoning`).
 */

const EMAIL = 'jane.doe@example.com';

type Step = { reasoning?: string; content?: string; logprobs?: string[]; finish?: boolean };
let steps: Step[] = [];

function tokens(pieces: string[]) {
  return pieces.map((t) => ({ token: t, logprob: -0.5, bytes: [...Buffer.from(t)], top_logprobs: [] }));
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  const base = { id: 'chatcmpl-g', created: 1, model: 'qwen3' };
  if (req.body.stream !== true) {
    const reasoning = steps.map((s) => s.reasoning ?? '').join('');
    const content = steps.map((s) => s.content ?? '').join('');
    const lp = steps.flatMap((s) => s.logprobs ?? []);
    return {
      kind: 'json',
      body: chatCompletion(
        base,
        { content, reasoning_content: reasoning },
        { logprobs: { content: tokens(lp), refusal: null } },
      ),
    };
  }
  const chunk = (delta: unknown, logprobs: unknown, finish: string | null = null): SseEvent =>
    chatChunk(base, delta, finish, logprobs);
  return {
    kind: 'sse',
    events: [
      ...steps.map((s) =>
        s.finish === true
          ? chunk({}, null, 'stop')
          : chunk(
              s.reasoning !== undefined ? { reasoning_content: s.reasoning } : { content: s.content },
              s.logprobs === undefined ? null : { content: tokens(s.logprobs), refusal: null },
            ),
      ),
      chunk({}, null, 'stop'),
      { data: '[DONE]' },
    ],
  };
}

const h = useInstrHarness({ script });

const params = {
  model: 'qwen3',
  messages: [{ role: 'user' as const, content: 'mail Jane' }],
  logprobs: true,
};

function read(stream: boolean, seen: unknown[] = []): Promise<unknown[]> {
  return readChat(h, 'redact', params, stream, seen);
}

/** The streamed reasoning pieces joined, as a reader joining them gets it. */
function joined(events: unknown[]): string {
  let out = '';
  for (const e of events as Array<{ choices: Array<{ delta?: Record<string, unknown> }> }>)
    for (const c of e.choices)
      if (typeof c.delta?.reasoning_content === 'string') out += c.delta.reasoning_content;
  return out;
}

describe('redact: the reasoning does not reach the application in its logprobs', () => {
  for (const stream of [false, true])
    it(`an address in the reasoning is not in the logprobs${stream ? ', streamed' : ''}`, async () => {
      steps = [
        { reasoning: 'Send it to ', logprobs: ['Send', ' it', ' to '] },
        { reasoning: 'jane.doe@', logprobs: ['jane', '.doe@'] },
        { reasoning: 'example.com.', logprobs: ['example', '.com', '.'] },
        { content: 'Drafted.', logprobs: ['Drafted', '.'] },
      ];
      const seen = await read(stream);
      const text = JSON.stringify(seen);
      expect(text).not.toMatch(/jane|\.doe/);
      expect(text).toContain('[REDACTED:email]');
      if (stream) {
        // The answer's chunk, whose text the guard left alone, keeps its tokens.
        expect(text).toContain('"token":"Drafted"');
        expect(joined(seen)).toBe('Send it to [REDACTED:email].');
      }
    });

  it('a clean reasoning keeps its logprobs', async () => {
    steps = [
      { reasoning: 'Send it to her.', logprobs: ['Send', ' it', ' to', ' her.'] },
      { content: 'Drafted.', logprobs: ['Drafted', '.'] },
    ];
    const seen = await read(false);
    expect(JSON.stringify(seen)).toContain('"token":" her."');
  });
});

describe('redact: reasoning resumed after the answer began', () => {
  it('an address cut between two runs of reasoning is not delivered whole', async () => {
    steps = [
      { reasoning: 'Send it to jane.doe@' },
      { content: 'Drafted.' },
      { reasoning: 'example.com now.' },
      { content: ' Sent.' },
    ];
    const seen: unknown[] = [];
    const err: unknown = await read(true, seen).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect((err as OutputBlockedError).filter).toBe('reasoning');
    expect(joined(seen)).not.toContain('example.com');
    await eventually(() => piiEvents(h).length > 0);
  });

  it('nor when the rest comes after a finish chunk, with a second finish', async () => {
    steps = [
      { reasoning: 'Send it to jane.doe@' },
      { content: 'Drafted.' },
      { finish: true },
      { reasoning: 'example.com now.' },
    ];
    // Reasoning after its choice's finish is not delivered.
    expect(joined(await read(true))).toBe('Send it to jane.doe@');
  });

  it('a resumed run with an address of its own goes out rewritten, at the finish', async () => {
    steps = [
      { reasoning: 'First, the draft. ' },
      { content: 'Drafted.' },
      { reasoning: `Then mail ${EMAIL}.` },
      { content: ' Sent.' },
    ];
    const seen = await read(true);
    expect(joined(seen)).toBe('First, the draft. Then mail [REDACTED:email].');
    expect(JSON.stringify(seen)).not.toMatch(/jane|\.doe/);
  });

  it('clean runs of reasoning join to what the server sent', async () => {
    steps = [
      { reasoning: 'First, the draft. ' },
      { content: 'Drafted.' },
      { reasoning: 'Then the mail.' },
      { content: ' Sent.' },
    ];
    expect(joined(await read(true))).toBe('First, the draft. Then the mail.');
  });
});
