import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '@llmsec/core';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { splitJoined } from '../src/instrumentation/output-texts.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A custom guard's rewrite of a complete answer's choices (read joined one a line) cut back
 * into the choices (output-texts.ts splitJoined). The cuts were found by the text around them
 * (slot-chars.ts, made for parts read back to back), so choices holding line breaks and text
 * repeated near a cut had text moved from one choice into another, even when the guard changed
 * nothing but characters within lines: a legacy completion answering a list of prompts (one an
 * end user's each) handed a piece of one answer to another. A rewrite that keeps the line count
 * now goes back by the choices' line counts, exactly; others as before.
 */

const swap = (s: string): string => s.replaceAll('x', 'YY');

describe('splitJoined', () => {
  it('a rewrite that keeps the line count: each choice is the rewrite of its own text (seeded)', () => {
    const rnd = seededRandom(11);
    const alphabet = ['a', 'b', '\n', 'x', ' '];
    for (let t = 0; t < 3000; t++) {
      const n = 2 + Math.floor(rnd() * 3);
      const texts = Array.from({ length: n }, () =>
        Array.from(
          { length: Math.floor(rnd() * 12) },
          () => alphabet[Math.floor(rnd() * alphabet.length)],
        ).join(''),
      );
      expect(splitJoined(texts, swap(texts.join('\n'))), JSON.stringify(texts)).toEqual(texts.map(swap));
    }
  });

  it('a rewrite that changed the line count: the pieces joined are still the rewrite', () => {
    const texts = ['one\nsecret\ntwo', 'three', 'four\nsecret'];
    const text = texts.join('\n').replaceAll('\nsecret', '');
    const out = splitJoined(texts, text);
    expect(out).toHaveLength(3);
    expect(out.join('\n')).toBe(text);
  });
});

let prompts: string[] = [];
const ANSWERS = ['\nx x \nx', 'xxba'];

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/completions')) return undefined;
  prompts = req.body.prompt as string[];
  return {
    kind: 'json',
    body: {
      id: 'cmpl-2',
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: ANSWERS.map((text, index) => ({ index, text, logprobs: null, finish_reason: 'stop' })),
    },
  };
}

const h = useInstrHarness({ script });

it("a list of prompts answered: a custom guard's rewrite leaves each answer in its own choice", async () => {
  const guard: OutputGuard = {
    name: 'swap',
    layer: 'custom',
    checkResponse: (o) => ({ action: 'modify', text: swap(o.text) }),
  };
  const client = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [guard] },
  });
  const r = await client.completions.create({
    model: 'gpt-3.5-turbo-instruct',
    prompt: ['for alice', 'for bob'],
  });
  expect(prompts).toHaveLength(2);
  // Before: ['\nYY YY ', 'YY\nYYYYba'] (alice's last line in bob's answer).
  expect(r.choices.map((c) => c.text)).toEqual(ANSWERS.map(swap));
});
