import { describe, expect, it } from 'vitest';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * piiGuard's cap (`maxChars`, 65,536 by default) on a chat answer's reasoning, beside the same
 * text as the answer's content: the reasoning is one text of the answer's, so it has the text's
 * cap, no other. Personal data is looked for in its first `maxChars` characters; credentials in
 * all of it (README, 'What the output guards cover'). Complete and streamed, redact.
 */

const EMAIL = 'jane.doe@example.com';
const BASE = { id: 'chatcmpl-c', created: 1, model: 'm' };
const KEY = 'sk-proj-4fQ9xT2mLw8RzK3vNb7YcH1pJd6Ge5Su';
/** Past the default cap, with nothing in it. */
const FILLER = 'lorem ipsum '.repeat(6000);
const LONG = `${FILLER}write to ${EMAIL} with ${KEY} now`;
/** Where the long text goes: the answer's content or its reasoning. */
let into: 'content' | 'reasoning_content' = 'content';

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  const message = into === 'content' ? { content: LONG } : { content: 'Done.', reasoning_content: LONG };
  if (req.body.stream !== true)
    return { kind: 'json', body: chatCompletion(BASE, message, { logprobs: null }) };
  const chunk = (delta: unknown, finish: string | null = null): SseEvent =>
    chatChunk(BASE, delta, finish, null);
  const events: SseEvent[] = [];
  for (let i = 0; i < LONG.length; i += 4096) events.push(chunk({ [into]: LONG.slice(i, i + 4096) }));
  if (into !== 'content') events.push(chunk({ content: 'Done.' }));
  events.push(chunk({}, 'stop'), { data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });

/** What the reader got of the long text (a complete message's field, or the pieces joined). */
async function got(stream: boolean): Promise<string> {
  const c = piiOpenAI(h, 'redact');
  const params = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
  if (!stream) {
    const r = await c.chat.completions.create(params);
    return (r.choices[0]!.message as unknown as Record<string, string>)[into]!;
  }
  let out = '';
  for await (const e of await c.chat.completions.create({ ...params, stream: true })) {
    const v = (e.choices[0]?.delta as Record<string, unknown> | undefined)?.[into];
    if (typeof v === 'string') out += v;
  }
  return out;
}

describe("piiGuard's cap on reasoning is the text's", () => {
  for (const stream of [false, true])
    it(`past maxChars: the address is not looked for, the key is redacted, as in the answer's text${stream ? ' (streamed)' : ''}`, async () => {
      const seen: Record<string, string> = {};
      for (const where of ['content', 'reasoning_content'] as const) {
        into = where;
        seen[where] = await got(stream);
      }
      expect(seen.content).toContain(EMAIL);
      expect(seen.content).not.toContain(KEY);
      expect(seen.reasoning_content).toBe(seen.content);
    });
});
