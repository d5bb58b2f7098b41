import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LlmsecMetrics } from '../src/metrics.ts';
import { runChunkGuards } from '../src/instrumentation/chunk-guards.ts';
import { runInputGuards, runOutputGuards } from '../src/instrumentation/guard-runner.ts';
import type { GuardInput, InputGuard, OutputGuard } from '../src/instrumentation/index.ts';
import { chatInput, recordingContext } from './guard-context.ts';

/**
 * The payload of a block event (guard-decisions.ts): `requestText` is the newest user message of
 * the input as the chain has it when the guard blocks, i.e. after the rewrites of the guards
 * before it (its length and fingerprint feed the escalation and coordinated-campaign rules).
 * f4a4335 moved this out of guard-runner.ts and now passes the input at the call site; no test
 * read requestText: reporting the chain's original input, or the first user message instead of
 * the newest, passed the suite.
 */

const metrics = new LlmsecMetrics();

type Step = { kind: 'allow' | 'modify' | 'block'; async: boolean };
const step = fc.record({
  kind: fc.constantFrom('allow' as const, 'modify' as const, 'block' as const),
  async: fc.boolean(),
});
const role = fc.constantFrom('user' as const, 'assistant' as const, 'system' as const);
const messages = fc.array(fc.record({ role, content: fc.string({ maxLength: 8 }) }), { maxLength: 5 });

function guard(s: Step, i: number): InputGuard {
  const decide = (input: GuardInput) => {
    if (s.kind === 'block') return { action: 'block' as const, reason: `r${i}` };
    if (s.kind === 'modify')
      return {
        action: 'modify' as const,
        // Rewrites the newest user message and adds an assistant turn after it.
        messages: [
          ...input.messages.map((m) => ({ ...m, content: `${m.content}+${i}` })),
          { role: 'assistant' as const, content: `a${i}` },
        ],
      };
    return { action: 'allow' as const };
  };
  return {
    name: `g${i}`,
    layer: `layer${i}`,
    check: (input) => (s.async ? Promise.resolve().then(() => decide(input)) : decide(input)),
  };
}

function newestUser(list: Array<{ role: string; content: string }>): string {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.role === 'user') return list[i]!.content;
  return '';
}

describe('block events carry the blocked payload', () => {
  it('an input block reports the newest user message of the input as rewritten so far', async () => {
    await fc.assert(
      fc.asyncProperty(messages, fc.array(step, { maxLength: 6 }), async (start, steps) => {
        const input = chatInput({ messages: start });
        const { ctx, events } = recordingContext(input);
        let expected = start;
        let blocked = false;
        for (let i = 0; i < steps.length && !blocked; i++) {
          if (steps[i]!.kind === 'block') blocked = true;
          else if (steps[i]!.kind === 'modify')
            expected = [
              ...expected.map((m) => ({ ...m, content: `${m.content}+${i}` })),
              { role: 'assistant', content: `a${i}` },
            ];
        }
        try {
          await runInputGuards(steps.map(guard), input, ctx, metrics);
        } catch {
          // The block, checked through its event below.
        }
        if (!blocked) {
          expect(events).toEqual([]);
          return;
        }
        expect(events).toHaveLength(1);
        const [category, event] = events[0] as [string, { requestText: string }];
        expect(category).toBe('guardrail_block');
        expect(event.requestText).toBe(newestUser(expected));
      }),
      { numRuns: 300 },
    );
  });

  it('an output block, whole response or chunk, reports the newest user message of the request', async () => {
    const input = chatInput({
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'answer' },
        { role: 'user', content: 'newest question' },
        { role: 'assistant', content: 'prefill' },
      ],
    });
    const blocking: OutputGuard = {
      name: 'b',
      layer: 'b',
      checkResponse: () => ({ action: 'block', reason: 'r' }),
      checkChunk: () => ({ action: 'block', reason: 'r' }),
    };
    for (const run of [
      (ctx: ReturnType<typeof recordingContext>['ctx']) =>
        runOutputGuards([blocking], { text: 't', toolCalls: [] }, ctx, metrics),
      (ctx: ReturnType<typeof recordingContext>['ctx']) => runChunkGuards([blocking], 't', 't', ctx, metrics),
    ]) {
      const { ctx, events } = recordingContext(input);
      expect(() => run(ctx)).toThrow();
      expect(events.map(([c, e]) => [c, (e as { requestText: string }).requestText])).toEqual([
        ['output_filter_block', 'newest question'],
      ]);
    }
  });
});
