import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { newInputStart } from '../src/guards/new-input-start.ts';
import type { GuardMessage } from '../src/instrumentation/index.ts';
import { measureNewInput } from '../src/instrumentation/new-input.ts';
import { chatInput, recordingContext } from './guard-context.ts';

/**
 * An ordinary chat resends its history every turn. An email typed on turn 1 is one
 * `pii_detected`, not one per later turn; a reply the output side reported is not reported again
 * as input when it comes back in the history (both were, on every turn, before).
 */
const turns = [
  'Hi, my email is alice@example.com, remember it.',
  'What is a good contact?',
  'Thanks, and the weather?',
  'Ok.',
];
const replies = ['Noted.', 'Write to bob@example.org.', 'Sunny.', 'Bye.'];

function chat(): GuardMessage[][] {
  const history: GuardMessage[] = [{ role: 'system', content: 'You are helpful.' }];
  const requests: GuardMessage[][] = [];
  turns.forEach((t, i) => {
    history.push({ role: 'user', content: t });
    requests.push([...history]);
    history.push({ role: 'assistant', content: replies[i] as string });
  });
  return requests;
}

describe('piiGuard on a multi-turn chat', () => {
  for (const mode of ['detect', 'redact'] as const) {
    it(`${mode}: one input event for the turn that typed it, none for the resent history`, () => {
      const guard = piiGuard({ mode });
      const perTurn = chat().map((messages) => {
        const { ctx, events } = recordingContext(chatInput({ messages }));
        const decision = guard.check(ctx.input, ctx) as { action: string; messages?: GuardMessage[] };
        return { events, decision };
      });
      expect(perTurn.map((t) => t.events.length)).toEqual([1, 0, 0, 0]);
      expect(perTurn[0]?.events[0]?.[1]).toMatchObject({
        metadata: { pii_types: ['email'], direction: 'input' },
      });
      if (mode === 'redact') {
        // The provider still never receives the address: the history is redacted every turn.
        for (const { decision } of perTurn) {
          expect(decision.action).toBe('modify');
          expect(JSON.stringify(decision.messages)).not.toMatch(/alice@example\.com|bob@example\.org/);
        }
      }
    });
  }

  it('block: a history holding a finding is still refused (what it protects is the provider)', () => {
    const requests = chat();
    const { ctx } = recordingContext(chatInput({ messages: requests[1] }));
    expect(piiGuard({ mode: 'block' }).check(ctx.input, ctx)).toMatchObject({ action: 'block' });
  });

  it('new input in several messages (tool results, an assistant prefill) is all scanned', () => {
    const messages: GuardMessage[] = [
      { role: 'user', content: 'look it up' },
      { role: 'assistant', content: 'calling the tool' },
      { role: 'tool', content: 'owner: carol@example.net' },
      { role: 'user', content: 'and her phone?' },
      { role: 'assistant', content: 'Her number is' },
    ];
    const { ctx, events } = recordingContext(chatInput({ messages }));
    expect(piiGuard({ mode: 'detect' }).check(ctx.input, ctx)).toEqual({ action: 'allow' });
    expect(events).toHaveLength(1);
  });

  it('the history is the client’s word: text behind an invented assistant turn is hidden from detect mode only', () => {
    // A first request whose client wrote the whole list (a browser that sends the history).
    const messages: GuardMessage[] = [
      { role: 'user', content: 'alice@example.com' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'hi' },
    ];
    const run = (mode: 'detect' | 'redact' | 'block') => {
      const { ctx, events } = recordingContext(chatInput({ messages }));
      return { decision: piiGuard({ mode }).check(ctx.input, ctx), events };
    };
    expect(run('detect')).toEqual({ decision: { action: 'allow' }, events: [] });
    const redacted = run('redact');
    expect(redacted.events).toEqual([]);
    expect(JSON.stringify(redacted.decision)).not.toContain('alice@example.com');
    expect(run('block').decision).toMatchObject({ action: 'block' });
  });

  it('the new input starts where core’s new_input_length starts counting', () => {
    // Every role class core reads: Gemini's model, Responses items (a *_call is the model's, its
    // *_output the client's), and roles neither side knows (the client's, so new input).
    const role = fc.constantFrom(
      'system',
      'user',
      'assistant',
      'tool',
      'function_call',
      'reasoning',
      'developer',
      'model',
      'function_call_output',
      'web_search_call',
      'item_reference',
      'Assistant',
    );
    fc.assert(
      fc.property(fc.array(role, { maxLength: 10 }), (roles) => {
        // Distinct powers of two: the sum names exactly which messages were counted.
        const messages: GuardMessage[] = roles.map((r, i) => ({ role: r, content: 'x'.repeat(2 ** i) }));
        const start = newInputStart(messages);
        const counted = messages
          .slice(start)
          .filter((m) => m.role !== 'system' && m.role !== 'developer')
          .reduce((n, m) => n + m.content.length, 0);
        expect(counted, JSON.stringify(roles)).toBe(measureNewInput(messages).length);
      }),
      { numRuns: 2000 },
    );
  });
});
