import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * Legacy completions with a list of prompts: one choice per prompt (index = prompt's place), so
 * the choices are answers to different questions, not alternatives. An output guard's rewrite
 * (piiGuard redact, on by default) must leave each answer in its own choice: before, choice 0
 * got every answer joined and the others were emptied, so a batch lost its answers whenever
 * one of them held an address.
 */

const EMAIL = 'jane.doe@example.com';

/** One choice per prompt string: `Answer to <prompt>`, over two lines. */
function batch(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/completions') || req.path.endsWith('/chat/completions')) return undefined;
  const prompts = req.body.prompt as string[];
  return {
    kind: 'json',
    body: {
      id: 'cmpl-b',
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: prompts.map((p, index) => ({
        index,
        text: `Answer to ${p}\nend of ${index}`,
        finish_reason: 'stop',
        logprobs: null,
      })),
      usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
    },
  };
}

const h = useInstrHarness({ script: batch });

function client() {
  const options = { ...h.options(), guards: { output: [piiGuard({ directions: ['output'] })] } };
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), options);
}

describe('legacy completions: a prompt list keeps one answer per choice through a rewrite', () => {
  it('each choice keeps its own answer, redacted on its own', async () => {
    const r = await client().completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: ['one', `two ${EMAIL}`, 'three'],
    });
    expect(r.choices.map((c) => c.text)).toEqual([
      'Answer to one\nend of 0',
      'Answer to two [REDACTED:email]\nend of 1',
      'Answer to three\nend of 2',
    ]);
    await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
    expect(h.recorded.filter((e) => e.category === 'pii_detected')).toHaveLength(1);
  });

  it('withResponse() gives the redacted data and the raw Response', async () => {
    const { data, response } = await client()
      .completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: [`a ${EMAIL}`, 'b'] })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.choices.map((c) => c.text)).toEqual([
      'Answer to a [REDACTED:email]\nend of 0',
      'Answer to b\nend of 1',
    ]);
  });

  it('a rewrite that changes the line count cannot be split back: the first choice gets it whole', async () => {
    const options = {
      ...h.options(),
      guards: {
        output: [
          {
            name: 'replace-all',
            layer: 'output' as const,
            checkResponse: () => ({ action: 'modify' as const, text: 'withheld' }),
          },
        ],
      },
    };
    const openai = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options,
    );
    const r = await openai.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: ['x', 'y'] });
    expect(r.choices.map((c) => c.text)).toEqual(['withheld', '']);
  });
});
