import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { chatChunk, chatCompletion } from './fixtures/chat-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * piiGuard's `maxChars` cut through a token: personal data is looked for in an answer's first
 * `maxChars` characters, and a longer token cut there can read as an address it is not
 * (`deploy@example.com-7f3a9c2e`, a build tag, cut after `.com`): detect reported an email,
 * block refused a clean answer, redact put a placeholder in it and left `-7f3a9c2e`. A match
 * that reaches the cut is now settled by reading on past it (at most 256 characters, core's
 * scan): it counts only when it still matches there, whole. So a real address inside the cap
 * is found as before, one ending at the cap is found, and one cut at the cap is found whole.
 */

const BASE = { id: 'chatcmpl-cap', created: 1, model: 'local-model' };
const LEAD = 'Build tag: ';
const TAG = 'deploy@example.com-7f3a9c2e';
const AT_CAP = 'deploy@example.com';
const CAP = LEAD.length + AT_CAP.length;
const FILLER = ' and the rest of the answer runs on well past the cap.'.repeat(3);

/** The answer: set per test. */
let answer = '';

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/chat/completions')) return undefined;
  if (req.body.stream !== true) return { kind: 'json', body: chatCompletion(BASE, { content: answer }) };
  // Cut into 7-character pieces, as a model streams tokens.
  const events: SseEvent[] = [];
  for (let i = 0; i < answer.length; i += 7)
    events.push(chatChunk(BASE, { content: answer.slice(i, i + 7) }));
  events.push(chatChunk(BASE, {}, 'stop'), { data: '[DONE]' });
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });

async function read(mode: PiiMode, stream: boolean, maxChars = CAP): Promise<string> {
  const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [piiGuard({ mode, directions: ['output'], maxChars })] },
  });
  const params = { model: 'local-model', messages: [{ role: 'user' as const, content: 'hi' }] };
  if (!stream) return (await c.chat.completions.create(params)).choices[0]!.message.content ?? '';
  let text = '';
  for await (const e of await c.chat.completions.create({ ...params, stream: true }))
    text += e.choices[0]?.delta.content ?? '';
  return text;
}

describe.each([false, true])('piiGuard maxChars cutting a token (streamed: %s)', (stream) => {
  it.each(['detect', 'block', 'redact'] as const)(
    'a token cut at the cap into an address: %s finds nothing',
    async (mode) => {
      answer = `${LEAD}${TAG}${FILLER}`;
      expect(answer.slice(0, CAP).endsWith(AT_CAP)).toBe(true);
      expect(await read(mode, stream)).toBe(answer);
      expect(piiEvents(h)).toEqual([]);
    },
  );

  it('a real address wholly inside the cap is still found', async () => {
    answer = `Mail jane.doe@example.com now.${FILLER}`;
    await read('detect', stream);
    await eventually(() => piiEvents(h).length > 0);
    expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: ['email'] });
    await expect(read('block', stream)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(await read('redact', stream)).toBe(`Mail [REDACTED:email] now.${FILLER}`);
  });

  it('a real address ending at the cap, the text going on past it, is still found', async () => {
    answer = `${LEAD}${AT_CAP} ${FILLER}`;
    await expect(read('block', stream)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(await read('redact', stream)).toBe(`${LEAD}[REDACTED:email] ${FILLER}`);
  });

  it('a real address cut at the cap is found whole', async () => {
    // The cap falls between `.co` and `m`: the address read on past it is the whole one.
    answer = `${LEAD}deploy@example.com ${FILLER}`;
    const cut = CAP - 1;
    expect(answer.slice(0, cut).endsWith('.co')).toBe(true);
    expect(await read('redact', stream, cut)).toBe(`${LEAD}[REDACTED:email] ${FILLER}`);
  });

  it('a card number the cap cuts into a head that is no card is found whole', async () => {
    // Cut after 14 of its 16 digits: before, only a match of the head was read on past the
    // cap, and 14 digits are no valid card, so block and redact let the number out.
    answer = `${LEAD}4111111111111111 ${FILLER}`;
    const cut = LEAD.length + 14;
    await expect(read('block', stream, cut)).rejects.toBeInstanceOf(OutputBlockedError);
    expect(await read('redact', stream, cut)).toBe(`${LEAD}[REDACTED:credit_card] ${FILLER}`);
  });
});
