import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * piiGuard's cap (`maxChars`, personal data looked for in a text's first 64 Ki units) on a
 * complete answer of several texts (output-texts.ts): the guards read the texts joined one a
 * line, so the cap fell on the join. A first choice (or the answer before a quote) padded past
 * it hid an address in the next choice, or in an annotation's title, from every mode, while
 * the same answer streamed is redacted choice by choice (each lane has its own cap). Now each
 * text is read under its own cap, as a stream's choices are.
 */

const EMAIL = 'jane.doe@example.com';
/** Past the default cap (65,536 units), with no finding in it. */
const FILLER = 'lorem ipsum '.repeat(6000);

let choices: Array<Record<string, unknown>> = [];

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/chat/completions')) return undefined;
  if (req.body.stream === true) {
    // Each choice's text in chunks of 4,096, choice by choice.
    const chunk = (index: number, delta: unknown, finish: string | null = null) => ({
      data: {
        id: 'chatcmpl-cap',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'gpt-4o-mini',
        choices: [{ index, delta, logprobs: null, finish_reason: finish }],
      },
    });
    const events: Array<{ data: unknown }> = [];
    for (const [index, c] of choices.entries()) {
      const text = (c.message as { content: string }).content;
      for (let at = 0; at < text.length; at += 4096)
        events.push(chunk(index, { content: text.slice(at, at + 4096) }));
      events.push(chunk(index, {}, 'stop'));
    }
    return { kind: 'sse', events: [...events, { data: '[DONE]' }] };
  }
  return {
    kind: 'json',
    body: {
      id: 'chatcmpl-cap',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-mini',
      choices,
      usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 },
    },
  };
}

const h = useInstrHarness({ script });

function choice(index: number, content: string, annotations?: unknown[]) {
  return {
    index,
    message: { role: 'assistant', content, refusal: null, ...(annotations ? { annotations } : {}) },
    logprobs: null,
    finish_reason: 'stop',
  };
}

function client(guards: OutputGuard[]) {
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: guards },
  });
}

const ask = { model: 'gpt-4o-mini', n: 2, messages: [{ role: 'user' as const, content: 'hi' }] };
const piiEvents = () => h.recorded.filter((e) => e.category === 'pii_detected');

describe('piiGuard on a complete answer longer than its cap: each text under its own cap', () => {
  it('redact: an address in choice 1 after a padded choice 0 is redacted, as redact of its own text', async () => {
    choices = [choice(0, FILLER), choice(1, `Write to ${EMAIL}.`)];
    h.recorded.length = 0;
    const r = await client([piiGuard({ directions: ['output'] })]).chat.completions.create(ask);
    expect(r.choices[1]!.message.content).toBe(redact(`Write to ${EMAIL}.`).text);
    expect(r.choices[1]!.message.content).not.toContain(EMAIL);
    expect(r.choices[0]!.message.content).toBe(FILLER);
    expect(piiEvents()).toHaveLength(1);
    expect(piiEvents()[0]!.metadata?.pii_types).toEqual(['email']);
  });

  it("redact: an address in an annotation's title after a long answer is redacted", async () => {
    const annotations = [
      {
        type: 'url_citation',
        url_citation: {
          start_index: 0,
          end_index: 5,
          title: `Contact ${EMAIL}`,
          url: 'https://example.org/',
        },
      },
    ];
    choices = [choice(0, FILLER, annotations)];
    const r = await client([piiGuard({ directions: ['output'] })]).chat.completions.create({ ...ask, n: 1 });
    const title = (
      r.choices[0]!.message as unknown as { annotations: Array<{ url_citation: { title: string } }> }
    ).annotations[0]!.url_citation.title;
    expect(title).toBe(redact(`Contact ${EMAIL}`).text);
  });

  it('block and detect: the address in choice 1 is found', async () => {
    choices = [choice(0, FILLER), choice(1, `Write to ${EMAIL}.`)];
    await expect(
      client([piiGuard({ mode: 'block', directions: ['output'] })]).chat.completions.create(ask),
    ).rejects.toBeInstanceOf(OutputBlockedError);
    h.recorded.length = 0;
    const r = await client([piiGuard({ mode: 'detect', directions: ['output'] })]).chat.completions.create(
      ask,
    );
    expect(r.choices[1]!.message.content).toContain(EMAIL);
    expect(piiEvents()).toHaveLength(1);
  });

  it("streamed: the end check reads each choice under its own cap (detect's only check)", async () => {
    choices = [choice(0, FILLER), choice(1, `Write to ${EMAIL}.`)];
    for (const mode of ['detect', 'redact'] as const) {
      h.recorded.length = 0;
      const stream = await client([piiGuard({ mode, directions: ['output'] })]).chat.completions.create({
        ...ask,
        stream: true,
      });
      const out = ['', ''];
      for await (const c of stream) for (const x of c.choices) out[x.index] += x.delta.content ?? '';
      expect(out[1], mode).toBe(mode === 'detect' ? `Write to ${EMAIL}.` : redact(`Write to ${EMAIL}.`).text);
      expect(piiEvents(), mode).toHaveLength(1);
    }
  });

  it('a text past the cap on its own is still read only up to it (the cap is kept per text)', async () => {
    choices = [choice(0, `${FILLER}${EMAIL}`), choice(1, 'Hello.')];
    h.recorded.length = 0;
    const r = await client([piiGuard({ directions: ['output'] })]).chat.completions.create(ask);
    expect(r.choices[0]!.message.content).toContain(EMAIL);
    expect(piiEvents()).toHaveLength(0);
  });

  it("a guard before piiGuard that rewrote the text: piiGuard reads the rewrite, not the provider's texts", async () => {
    choices = [choice(0, 'short'), choice(1, `Write to ${EMAIL}.`)];
    const pad: OutputGuard = {
      name: 'pad',
      layer: 'custom',
      checkResponse: (o) => ({ action: 'modify', text: `${FILLER}${o.text}` }),
    };
    h.recorded.length = 0;
    const r = await client([pad, piiGuard({ directions: ['output'] })]).chat.completions.create(ask);
    // The joined rewrite is one text to piiGuard: its cap falls inside the filler, as before.
    expect(r.choices.map((c) => c.message.content).join('\n')).toContain(EMAIL);
    expect(piiEvents()).toHaveLength(0);
  });
});
