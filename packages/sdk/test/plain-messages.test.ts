import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { measureNewInput } from '@llmsec/core/internal';
import { openaiChatAdapter } from '../src/instrumentation/openai-chat.ts';
import { plainChatMessages, plainMessagesOf } from '../src/instrumentation/plain-messages.ts';
import { openaiResponsesAdapter } from '../src/instrumentation/openai-responses.ts';
import { anthropicMessagesAdapter } from '../src/instrumentation/anthropic-messages.ts';

/*
 * The call's end reads prompt_length and the new input from plainChatMessages when no guard
 * built the guard view (issue 13). Whenever it answers, it must be exactly the guard view's
 * messages as roles and contents (and those messages have no cuts); anything it declines goes
 * through the guard view, so any body is either read alike or not read at all.
 */

const role = fc.oneof(
  fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'function', ''),
  fc.string({ maxLength: 6 }),
  fc.constantFrom(undefined, null, 3, ['user']),
);
const text = fc.string({ maxLength: 12 });
const content = fc.oneof(
  { weight: 6, arbitrary: text },
  { weight: 1, arbitrary: fc.array(fc.record({ type: fc.constant('text'), text }), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, 7, { text: 'x' }) },
);
const message = fc.oneof(
  { weight: 8, arbitrary: fc.record({ role, content }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ role, content, output: fc.oneof(text, fc.constant(undefined)) }) },
  { weight: 1, arbitrary: fc.record({ role, content, tool_call_id: text, name: text }) },
  { weight: 1, arbitrary: fc.constantFrom(null, 'hi', 4, [{ role: 'user', content: 'x' }]) },
);
const body = fc.record({
  model: fc.constant('gpt-4o-mini'),
  messages: fc.oneof(
    { weight: 9, arbitrary: fc.array(message, { maxLength: 6 }) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'x', {}) },
  ),
});

describe('plainChatMessages', () => {
  it('is the guard view of OpenAI chat messages whenever it answers, and answers for plain string messages', () => {
    let answered = 0;
    fc.assert(
      fc.property(body, (b) => {
        const view = openaiChatAdapter.guardInput(b as Record<string, unknown>);
        const plain = plainChatMessages(b as Record<string, unknown>);
        const allPlain =
          Array.isArray(b.messages) &&
          (b.messages as unknown[]).every(
            (m) =>
              typeof m === 'object' &&
              m !== null &&
              !Array.isArray(m) &&
              typeof (m as { role?: unknown }).role === 'string' &&
              typeof (m as { content?: unknown }).content === 'string' &&
              (m as { output?: unknown }).output === undefined,
          );
        expect(plain !== undefined).toBe(allPlain);
        if (plain === undefined) return;
        answered++;
        expect(plain).toEqual(view.messages.map((m) => ({ role: m.role, content: m.content })));
        for (const m of view.messages) expect(m.cuts).toBeUndefined();
        const raw = b.messages as unknown[];
        expect(measureNewInput(plain, { raw, inConversation: true })).toEqual(
          measureNewInput(view.messages, { raw, inConversation: true }),
        );
      }),
      { numRuns: 3000 },
    );
    expect(answered).toBeGreaterThan(300);
  });

  it('reads each field once (a getter cannot give the length and the new input different texts)', () => {
    let reads = 0;
    const m = {
      role: 'user',
      get content() {
        reads++;
        return reads === 1 ? 'hello' : { not: 'a string' };
      },
    };
    expect(plainChatMessages({ messages: [m] })).toEqual([{ role: 'user', content: 'hello' }]);
    expect(reads).toBe(1);
  });

  it('is linear: 200,000 messages read in well under a second, declined at the first non-plain one', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content: 'x',
    }));
    // Thread CPU time, not wall time: 30-50 ms of CPU took 0.6-1.5 s of wall at load 31 on
    // 2 cores (and 2.3 s in a loaded package run), past a wall bound of 1 s.
    const t0 = process.threadCpuUsage();
    expect(plainChatMessages({ messages: many })).toHaveLength(200_000);
    many[1] = { role: 'user', content: [{ type: 'text', text: 'x' }] } as never;
    expect(plainChatMessages({ messages: many })).toBeUndefined();
    const cpu = process.threadCpuUsage(t0);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(1000);
  });
});

describe('plainMessagesOf', () => {
  it('reads chat.completions requests only: a Responses request of the same shape builds its guard view', () => {
    const b = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
    expect(plainMessagesOf(openaiChatAdapter, b)).toEqual([{ role: 'user', content: 'hi' }]);
    expect(plainMessagesOf(openaiResponsesAdapter, b)).toBeUndefined();
    expect(plainMessagesOf(anthropicMessagesAdapter, b)).toBeUndefined();
  });
});
