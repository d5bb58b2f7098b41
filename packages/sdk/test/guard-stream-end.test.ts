import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import {
  instrumentClient,
  OutputBlockedError,
  type OutputDecision,
  type OutputGuard,
} from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * The end checks of a stream run without a promise when the output guards answer synchronously
 * and through one when a guard returns one (82a78db, issue 13 review). Whichever way, and in
 * any mix: a block at the end fails the read, records the block and releases none of the
 * held text; an allow releases every held item once, in order.
 */

const h = useInstrHarness({ chunkDelayMs: 1 });
const PROMPT = 'one two three four five six seven eight nine ten';
const ECHO = `Echo: ${PROMPT}`;

/** Holds back all the text so far: every item waits for the end checks. */
const holdAll: OutputGuard = {
  name: 'holdAll',
  layer: 'hold_all',
  checkResponse: () => ({ action: 'allow' }),
  checkChunk: (acc) => ({ action: 'allow', holdChars: acc.length }),
};

const block: OutputDecision = { action: 'block', reason: 'end check said no' };
const allow: OutputDecision = { action: 'allow' };
function endGuard(name: string, answer: () => OutputDecision | Promise<OutputDecision>): OutputGuard {
  return { name, layer: name, checkResponse: answer };
}
const sync = (d: OutputDecision) => () => d;
const later = (d: OutputDecision) => () => new Promise<OutputDecision>((r) => setTimeout(() => r(d), 2));
/** A thenable that is not a native promise. */
const thenable = (d: OutputDecision) => () =>
  ({
    then: (ok: (v: OutputDecision) => void) => setTimeout(() => ok(d), 1),
  }) as unknown as Promise<OutputDecision>;
const throws = () => () => {
  throw new Error('guard bug');
};
const rejects = () => () => Promise.reject(new Error('guard bug'));

const MIXES: Array<[string, Array<() => OutputDecision | Promise<OutputDecision>>, 'allow' | string]> = [
  ['sync allow', [sync(allow)], 'allow'],
  ['sync block', [sync(block)], 'e0'],
  ['async block', [later(block)], 'e0'],
  ['async allow', [later(allow)], 'allow'],
  ['sync allow, async block', [sync(allow), later(block)], 'e1'],
  ['async allow, sync block', [later(allow), sync(block)], 'e1'],
  ['async allow, async allow', [later(allow), later(allow)], 'allow'],
  ['thenable block', [thenable(block)], 'e0'],
  ['thenable allow, sync block', [thenable(allow), sync(block)], 'e1'],
  ['a throwing guard then a sync block', [throws(), sync(block)], 'e1'],
  ['a rejecting guard then an async block', [rejects(), later(block)], 'e1'],
  ['a throwing guard and a rejecting one: allowed', [throws(), rejects()], 'allow'],
];

async function read(guards: OutputGuard[]): Promise<{ shown: string[]; err: unknown }> {
  const c = instrumentClient(new OpenAI({ apiKey: 'test', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: guards },
  });
  const stream = await c.chat.completions.create({
    model: 'gpt-4o-mini',
    stream: true,
    messages: [{ role: 'user', content: PROMPT }],
  });
  const shown: string[] = [];
  let err: unknown;
  try {
    for await (const chunk of stream) shown.push(chunk.choices[0]?.delta.content ?? '');
  } catch (e) {
    err = e;
  }
  return { shown, err };
}

describe('stream end checks, sync and async guards mixed', () => {
  for (const [name, answers, want] of MIXES) {
    it(name, async () => {
      const guards = [holdAll, ...answers.map((a, i) => endGuard(`e${i}`, a))];
      const { shown, err } = await read(guards);
      await eventually(() => h.spans().length === 1);
      if (want === 'allow') {
        expect(err).toBeUndefined();
        expect(shown.join('')).toBe(ECHO);
        expect(shown.filter((s) => s.length > 0).length).toBeGreaterThan(3);
        expect(h.recorded.map((e) => e.category)).toEqual(['request_completed']);
      } else {
        expect(err).toBeInstanceOf(OutputBlockedError);
        expect((err as OutputBlockedError).filter).toBe(want);
        // Held until the end checks, which blocked: none of the text reached the reader.
        expect(shown.join('')).toBe('');
        expect(h.recorded.map((e) => [e.category, e.metadata?.filter_name ?? null])).toEqual([
          ['output_filter_block', want],
          ['request_completed', null],
        ]);
        expect(h.spans()[0]?.attributes['error.type']).toBe('OutputBlockedError');
      }
    });
  }

  it('without a hold the items arrive as they come, once each and in order, whatever the end guards', async () => {
    const plain = await read([endGuard('e0', later(allow))]);
    const held = await read([holdAll, endGuard('e0', sync(allow))]);
    expect(plain.err).toBeUndefined();
    expect(held.err).toBeUndefined();
    expect(held.shown).toEqual(plain.shown);
    expect(plain.shown.join('')).toBe(ECHO);
  });
});
