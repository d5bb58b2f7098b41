import { describe, expect, it } from 'vitest';
import type { Category, EventInputFor } from '@llmsec/core';
import { systemPromptLeakageGuard } from '../src/guards/index.ts';
import type { GuardContext, GuardInput } from '../src/instrumentation/index.ts';

function ctx(system = ''): { ctx: GuardContext; emitted: Array<[string, unknown]> } {
  const emitted: Array<[string, unknown]> = [];
  const input: GuardInput = {
    provider: 'openai',
    operation: 'chat',
    model: 'm',
    system,
    messages: [],
    tools: [],
    body: {},
  };
  return {
    emitted,
    ctx: {
      input,
      emit<C extends Category>(category: C, e: EventInputFor<C>) {
        emitted.push([category, e.metadata]);
        return undefined;
      },
    },
  };
}

// 12 words -> 5 distinct 8-grams.
const system = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima';

describe('systemPromptLeakageGuard n-gram overlap', () => {
  it('confidence is the share of the prompt 8-grams the response repeats', () => {
    const g = systemPromptLeakageGuard({ systemPrompt: system, threshold: 0.5 });
    const c = ctx();
    // First 10 words: grams 1..3 of 5 = 0.6 -> leak.
    const d = g.checkResponse(
      { text: 'Sure: Alpha, bravo charlie delta echo foxtrot golf hotel india juliet!', toolCalls: [] },
      c.ctx,
    );
    expect(d.action).toBe('block');
    expect(c.emitted).toEqual([
      ['system_prompt_leakage', { detection_method: 'ngram_overlap', confidence: 0.6 }],
    ]);
  });

  it('below the threshold, or ordinary text: allowed and nothing emitted', () => {
    const g = systemPromptLeakageGuard({ systemPrompt: system, threshold: 0.5 });
    const c = ctx();
    // First 9 words: 2 of 5 grams = 0.4.
    expect(
      g.checkResponse(
        { text: 'alpha bravo charlie delta echo foxtrot golf hotel india', toolCalls: [] },
        c.ctx,
      ).action,
    ).toBe('allow');
    expect(g.checkResponse({ text: 'The weather in Lima is mild today.', toolCalls: [] }, c.ctx).action).toBe(
      'allow',
    );
    expect(c.emitted).toEqual([]);
  });

  it('without a configured prompt it protects each request own system prompt; short prompts match whole', () => {
    const g = systemPromptLeakageGuard();
    const c = ctx('Be brief and kind.');
    expect(g.checkResponse({ text: 'My rules: be brief, and kind.', toolCalls: [] }, c.ctx).action).toBe(
      'block',
    );
    expect(c.emitted[0]).toEqual([
      'system_prompt_leakage',
      { detection_method: 'ngram_overlap', confidence: 1 },
    ]);
    expect(g.checkResponse({ text: 'anything', toolCalls: [] }, ctx('').ctx).action).toBe('allow');
  });

  it('canary split across stream chunks is caught', () => {
    const g = systemPromptLeakageGuard({ canary: 'ZX-CANARY-991' });
    const c = ctx();
    expect(g.checkChunk('here is ZX-CAN', 'here is ZX-CAN', c.ctx).action).toBe('allow');
    expect(g.checkChunk('here is ZX-CANARY-991', 'ARY-991', c.ctx).action).toBe('block');
    expect(c.emitted).toEqual([
      ['system_prompt_leakage', { detection_method: 'canary_token', confidence: 1 }],
    ]);
  });

  it('rejects bad configuration', () => {
    expect(() => systemPromptLeakageGuard({ ngram: 0 })).toThrow(/ngram/);
    expect(() => systemPromptLeakageGuard({ threshold: 1.5 })).toThrow(/threshold/);
  });
});
