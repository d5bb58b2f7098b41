import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { openaiChatAdapter } from '../src/instrumentation/openai-chat.ts';
import { StreamText } from '../src/instrumentation/stream-text.ts';
import type { OutputGuard } from '../src/instrumentation/types.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * The text a stream's chunk checks get as `accumulated` (issue 13): the chat accumulator's own
 * string while the stream is one choice (StreamAccumulator.text), so the end checks read the
 * very string the chunk checks read; a second copy of it built by the stream (a rope of one
 * node a delta, flattened and compared at the end by the leakage guard) once it is not. Either
 * way `accumulated` is every delta so far, joined, in the order they came.
 */

const h = useInstrHarness();

const chunk = (choices: Array<{ index: number; content?: string; finish?: string }>): string =>
  `data: ${JSON.stringify({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: choices.map((c) => ({
      index: c.index,
      delta: c.content === undefined ? {} : { content: c.content },
      finish_reason: c.finish ?? null,
    })),
  })}\n\n`;

/** Streams `deltas` ([choice, text]) and records what the chunk checks and the end check read. */
async function read(deltas: Array<[number, string]>): Promise<{ accumulated: string[]; end: string }> {
  const accumulated: string[] = [];
  let end = '';
  const recorder: OutputGuard = {
    name: 'recorder',
    layer: 'recorder',
    checkChunk: (acc) => {
      accumulated.push(acc);
      return { action: 'allow' };
    },
    checkResponse: (out) => {
      end = out.text;
      return { action: 'allow' };
    },
  };
  const body = [
    ...deltas.map(([index, content]) => chunk([{ index, content }])),
    chunk([...new Set(deltas.map(([i]) => i))].map((index) => ({ index, finish: 'stop' }))),
    'data: [DONE]\n\n',
  ].join('');
  const client = instrumentClient(
    new OpenAI({
      apiKey: 'test',
      baseURL: 'http://127.0.0.1:9/v1',
      maxRetries: 0,
      fetch: () =>
        Promise.resolve(
          new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
        ),
    }),
    { ...h.options(), guards: { output: [recorder] } },
  );
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    stream: true,
    messages: [{ role: 'user', content: 'hi' }],
  });
  for await (const _ of stream);
  return { accumulated, end };
}

const prefixes = (parts: string[]): string[] => parts.map((_, i) => parts.slice(0, i + 1).join(''));

describe('the text the chunk checks read', () => {
  it('one choice: every delta so far, and the end checks read the same text', async () => {
    const parts = ['Hello', ', ', 'world', '!'];
    const { accumulated, end } = await read(parts.map((p) => [0, p]));
    expect(accumulated).toEqual(prefixes(parts));
    expect(end).toBe(parts.join(''));
  });

  it('a second choice after the first one started: still every delta so far, interleaved', async () => {
    // The accumulator's own text stops growing at the second choice (each choice is joined at the
    // end): taking it past that point would hand the checks a text that no longer grows.
    const deltas: Array<[number, string]> = [
      [0, 'one '],
      [0, 'two '],
      [1, 'uno '],
      [0, 'three'],
      [1, 'dos'],
    ];
    const { accumulated, end } = await read(deltas);
    expect(accumulated).toEqual(prefixes(deltas.map(([, t]) => t)));
    expect(end).toBe('one two three\nuno dos');
  });
});

describe('the chat accumulator text', () => {
  it('is the joined deltas while the stream is one choice, undefined from a second choice on', () => {
    const acc = openaiChatAdapter.newStream();
    const seen: string[] = [];
    for (const content of ['a', 'bc', '', 'def']) {
      seen.push(acc.observe({ choices: [{ index: 0, delta: { content } }] }));
      expect(acc.text).toBe(seen.join(''));
    }
    expect(acc.summary().text).toBe(acc.text);
    acc.observe({ choices: [{ index: 1, delta: { content: 'x' } }] });
    expect(acc.text).toBeUndefined();
    expect(acc.summary().text).toBe('abcdef\nx');
  });
});

describe('StreamText', () => {
  it("takes the accumulator's text when given, and goes on from it by appending when not", () => {
    const t = new StreamText();
    const own = 'ab';
    expect(t.append('ab', own)).toBe(own);
    expect(t.append('cd')).toBe('abcd');
    expect(t.value).toBe('abcd');
  });
});
