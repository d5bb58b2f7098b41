import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A streamed legacy completion with `echo: true`: each choice's text starts with its prompt, the
 * user's input (read by the input guards). The non-streamed path leaves it out of what the
 * output guards read (openai-completions.ts echoLength); streamed it was read as output:
 * reported twice in detect mode, blocked as the response's in block mode, rewritten in redact
 * mode. Through openai 7 against the fake server; the echo is cut across chunks, inside the
 * address, and the choices' chunks interleave.
 */

const EMAIL = 'jane.doe@example.com';
const PROMPTS = [`Remember ${EMAIL} for me.`, 'hi'];
const ANSWER = ' Noted.';

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/completions') || req.body.stream !== true) return undefined;
  const prompts = typeof req.body.prompt === 'string' ? [req.body.prompt] : (req.body.prompt as string[]);
  const tail = typeof req.body.suffix === 'string' ? req.body.suffix : ANSWER;
  const chunk = (index: number, text: string, finish: string | null = null) => ({
    data: {
      id: 'cmpl-echo-s',
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: [{ index, text, logprobs: null, finish_reason: finish }],
    },
  });
  const events = [];
  // Each prompt echoed in two pieces (the first cut inside the address), choices interleaved.
  for (const [i, p] of prompts.entries()) events.push(chunk(i, p.slice(0, 15)));
  for (const [i, p] of prompts.entries()) events.push(chunk(i, p.slice(15)));
  for (const [i] of prompts.entries()) events.push(chunk(i, tail, 'stop'));
  return { kind: 'sse', events: [...events, { data: '[DONE]' }] };
}

const h = useInstrHarness({ script });

function client(input: 'redact' | 'block' | 'detect' | undefined, output: 'redact' | 'block' | 'detect') {
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: {
      input: input === undefined ? [] : [piiGuard({ mode: input, directions: ['input'] })],
      output: [piiGuard({ mode: output, directions: ['output'] })],
    },
  });
}

async function read(c: OpenAI, extra: Record<string, unknown> = {}): Promise<string[]> {
  const s = await c.completions.create({
    model: 'gpt-3.5-turbo-instruct',
    echo: true,
    stream: true,
    prompt: PROMPTS,
    ...extra,
  });
  const texts = ['', ''];
  for await (const x of s) for (const ch of x.choices) texts[ch.index] += ch.text;
  return texts;
}

const piiEvents = () => h.recorded.filter((e) => e.category === 'pii_detected');
const expected = PROMPTS.map((p) => p + ANSWER);

describe('streamed legacy completions with echo: the echoed prompt is not read as output', () => {
  it("detect on both sides: one pii_detected, the input's", async () => {
    h.recorded.length = 0;
    expect(await read(client('detect', 'detect'))).toEqual(expected);
    expect(piiEvents().map((e) => e.metadata?.direction)).toEqual(['input']);
  });

  it("block on the output side: the echo of the user's own prompt is not blocked", async () => {
    expect(await read(client(undefined, 'block'))).toEqual(expected);
  });

  it('redact on the output side: the echo is delivered as sent, the completion after it redacted', async () => {
    h.recorded.length = 0;
    const got = await read(client(undefined, 'redact'), { suffix: ` Mail ${EMAIL}.` });
    expect(got).toEqual(PROMPTS.map((p) => `${p} Mail [REDACTED:email].`));
    expect(piiEvents().map((e) => e.metadata?.direction)).toEqual(['output']);
  });
});
