import { describe, expect, it } from 'vitest';
import {
  patternGuard,
  piiGuard,
  PROMPT_INJECTION_PATTERNS,
  systemPromptLeakageGuard,
  toolAllowlistGuard,
} from '../src/guards/index.ts';
import { chatInput, recordingContext } from './guard-context.ts';

/**
 * The built-in guards answer allow with a fresh object each call: a host's wrapper may set fields
 * on the decision it gets (here, turning it into a block); a shared frozen object would throw in
 * strict mode (the runner then reads a failing guard, not the block) or carry one call's change
 * into the next.
 */
type Mutable = { action: string; reason?: string };

function wrapperBlocks(call: () => unknown): void {
  const first = call() as Mutable;
  expect(first.action).toBe('allow');
  expect(() => {
    first.action = 'block';
    first.reason = 'wrapper says no';
  }).not.toThrow();
  const second = call() as Mutable;
  expect(second).not.toBe(first);
  expect(second.action).toBe('allow');
}

describe('allow decisions are fresh objects', () => {
  const input = chatInput({
    system: 'You are a helpful assistant for the shop.',
    messages: [{ role: 'user', content: 'hello there' }],
  });
  const { ctx } = recordingContext(input);

  it('patternGuard', () => {
    const guard = patternGuard({ name: 'p', layer: 'input', patterns: PROMPT_INJECTION_PATTERNS });
    wrapperBlocks(() => guard.check(input, ctx));
  });

  it('piiGuard, input and output', () => {
    const guard = piiGuard({ mode: 'block' });
    wrapperBlocks(() => guard.check(input, ctx));
    wrapperBlocks(() => guard.checkResponse!({ text: 'nothing personal', toolCalls: [] }, ctx));
  });

  it('systemPromptLeakageGuard, response and chunk', () => {
    const guard = systemPromptLeakageGuard();
    wrapperBlocks(() => guard.checkResponse({ text: 'an ordinary answer', toolCalls: [] }, ctx));
    wrapperBlocks(() => guard.checkChunk('x', 'x', ctx));
  });

  it('toolAllowlistGuard, request and response', () => {
    const guard = toolAllowlistGuard({ allowed: ['search'] });
    wrapperBlocks(() => guard.check(chatInput({ tools: ['search'] }), ctx));
    wrapperBlocks(() => guard.checkResponse({ text: '', toolCalls: ['search'] }, ctx));
  });
});
