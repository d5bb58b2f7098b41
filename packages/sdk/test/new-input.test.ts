import { describe, expect, it } from 'vitest';
import {
  hasServerHistory,
  measureNewInput,
  rawContentLength,
  rawMessagesOf,
} from '../src/instrumentation/new-input.ts';
import type { GuardMessage } from '../src/instrumentation/types.ts';

const m = (role: string, content: string): GuardMessage => ({ role, content });

describe('measureNewInput', () => {
  it('a first message: its own text, without the system prompt; no turn index outside a conversation', () => {
    const r = measureNewInput([m('system', 'You are helpful.'), m('user', 'Hello there')]);
    expect(r).toEqual({ length: 11, turnIndex: undefined });
  });

  it('a first message in a session is turn 1', () => {
    expect(measureNewInput([m('user', 'Hi')], { inConversation: true })).toEqual({ length: 2, turnIndex: 1 });
  });

  it('a resent history counts only the trailing user message; the turn index counts assistant replies', () => {
    const history = [
      m('system', 'S'.repeat(300)),
      m('user', 'a'.repeat(40)),
      m('assistant', 'b'.repeat(900)),
      m('user', 'c'.repeat(50)),
      m('assistant', 'd'.repeat(700)),
      m('user', 'e'.repeat(33)),
    ];
    expect(measureNewInput(history)).toEqual({ length: 33, turnIndex: 3 });
  });

  it('the new input stays flat while the history grows', () => {
    const messages: GuardMessage[] = [m('system', 'S'.repeat(200))];
    const lengths: number[] = [];
    for (let turn = 0; turn < 20; turn++) {
      messages.push(m('user', 'q'.repeat(60)));
      lengths.push(measureNewInput(messages).length);
      messages.push(m('assistant', 'r'.repeat(800)));
    }
    expect(new Set(lengths)).toEqual(new Set([60]));
  });

  it('an agent step: tool results after the assistant tool call are the new input', () => {
    const r = measureNewInput([
      m('system', 'agent'),
      m('user', 'fix the test'),
      m('assistant', ''), // tool_calls, no text
      m('tool', 'x'.repeat(1200)),
      m('tool', 'y'.repeat(300)),
    ]);
    expect(r).toEqual({ length: 1500, turnIndex: 2 });
  });

  it('several user messages after the last reply are all new; system messages between them are not', () => {
    const r = measureNewInput([
      m('assistant', 'ok'),
      m('user', 'aaa'),
      m('system', 'zzzzzz'),
      m('user', 'bb'),
    ]);
    expect(r.length).toBe(5);
  });

  it('a trailing assistant prefill counts as new input and is not a model turn', () => {
    const r = measureNewInput([
      m('user', 'one'),
      m('assistant', 'reply'),
      m('user', 'two'),
      m('assistant', '{"a":'),
    ]);
    expect(r).toEqual({ length: 3 + 5, turnIndex: 2 });
  });

  it('Responses API items: a reasoning item and a function call are one model turn; the call output is new input', () => {
    const messages = [
      m('user', 'find it'),
      m('reasoning', ''),
      m('function_call', ''),
      m('function_call_output', ''),
    ];
    const raw = [
      { role: 'user', content: 'find it' },
      { type: 'reasoning', summary: [] },
      { type: 'function_call', name: 'search', arguments: '{}' },
      { type: 'function_call_output', call_id: 'c1', output: 'z'.repeat(250) },
    ];
    expect(measureNewInput(messages, { raw })).toEqual({ length: 250, turnIndex: 2 });
  });

  it('Anthropic tool_result blocks are measured from the raw content when the text view is empty', () => {
    const messages = [m('user', 'go'), m('assistant', ''), m('user', '')];
    const raw = [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'read', input: { path: 'a' } }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'w'.repeat(77) }] },
        ],
      },
    ];
    expect(measureNewInput(messages, { raw }).length).toBe(77);
  });

  it('a user turn with a tool result and a text part counts both', () => {
    const messages = [m('user', 'go'), m('assistant', ''), m('user', 'and then continue')];
    const raw = [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'read', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: 'r'.repeat(40) },
          { type: 'text', text: 'and then continue' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'A'.repeat(5000) } },
        ],
      },
    ];
    expect(measureNewInput(messages, { raw }).length).toBe(40 + 'and then continue'.length);
  });

  it('ignores a raw list that does not line up with the text view', () => {
    expect(measureNewInput([m('user', '')], { raw: [{}, {}] }).length).toBe(0);
  });

  it('server-side history: no turn index', () => {
    expect(measureNewInput([m('user', 'next')], { inConversation: true, serverHistory: true })).toEqual({
      length: 4,
      turnIndex: undefined,
    });
  });

  it('an empty request', () => {
    expect(measureNewInput([])).toEqual({ length: 0, turnIndex: undefined });
  });
});

describe('rawContentLength', () => {
  it('counts strings, text parts, nested content and outputs', () => {
    expect(rawContentLength({ content: 'abc' })).toBe(3);
    expect(
      rawContentLength({
        content: [
          { type: 'text', text: 'ab' },
          { type: 'image_url', image_url: { url: 'x'.repeat(99) } },
        ],
      }),
    ).toBe(2);
    expect(rawContentLength({ output: 'abcd' })).toBe(4);
    expect(rawContentLength(null)).toBe(0);
  });

  it('is bounded on hostile input: deep nesting and huge part lists', () => {
    let deep: unknown = { text: 'x' };
    for (let i = 0; i < 100_000; i++) deep = { content: [deep] };
    expect(rawContentLength(deep)).toBe(0);
    const wide = { content: Array.from({ length: 200_000 }, () => ({ text: 'x' })) };
    const n = rawContentLength(wide);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(10_000);
  });
});

describe('request body helpers', () => {
  it('finds the raw message list and server-side history', () => {
    expect(rawMessagesOf({ messages: [1] })).toEqual([1]);
    expect(rawMessagesOf({ input: [2] })).toEqual([2]);
    expect(rawMessagesOf({ input: 'text' })).toBeUndefined();
    expect(hasServerHistory({ previous_response_id: 'resp_1' })).toBe(true);
    expect(hasServerHistory({ conversation: { id: 'c' } })).toBe(true);
    expect(hasServerHistory({ thread: { type: 'continue', previous_message_id: 'msg_1' } })).toBe(true);
    expect(hasServerHistory({ thread: { type: 'create' } })).toBe(false);
    expect(hasServerHistory({})).toBe(false);
  });
});
