import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectSensitive } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import type { GuardContext, GuardDecision, GuardInput, GuardMessage } from '../src/instrumentation/index.ts';
import { chatInput, recordingContext, type RecordingContext } from './guard-context.ts';

const ctxFor = (messages: GuardMessage[]): RecordingContext => recordingContext(chatInput({ messages }));

/**
 * The input check of detect and block modes as it was written before (a copy per message, a Set
 * always); detect mode reads the new input only (the messages after the last assistant turn),
 * see guard-pii-history.test.ts.
 */
function previousCheck(mode: 'detect' | 'block', input: GuardInput, ctx: GuardContext): GuardDecision {
  const found = new Set<string>();
  const lastAssistant = input.messages.findLastIndex((m) => m.role === 'assistant');
  const lastUserOrTool = input.messages.findLastIndex((m) => m.role !== 'assistant');
  // A trailing assistant prefill belongs to the new input: the history ends at the assistant turn before it.
  const historyEnd =
    lastAssistant > lastUserOrTool
      ? input.messages.slice(0, lastUserOrTool + 1).findLastIndex((m) => m.role === 'assistant')
      : lastAssistant;
  // Since the tool attribution: which messages held findings, to name the block's message
  // (the first user message with one, else the first tool message) and input_source.
  const hits: number[] = [];
  input.messages.map((m, i) => {
    if (mode === 'detect' && i <= historyEnd) return m;
    if (m.role === 'system' || m.role === 'developer' || m.content.length === 0) return m;
    const types = detectSensitive(m.content, { piiMaxChars: 65536 });
    for (const t of types) found.add(t);
    if (types.length > 0) hits.push(i);
    return m;
  });
  if (found.size === 0) return { action: 'allow' };
  const types = [...found];
  const own = hits.filter((i) => input.messages[i]!.role !== 'tool');
  const fromTool = own.length === 0;
  ctx.emit('pii_detected', {
    description: `${types.join(', ')} in the input${fromTool ? ' (in a tool result)' : ''}`,
    metadata: fromTool
      ? { pii_types: types, direction: 'input', input_source: 'tool' }
      : { pii_types: types, direction: 'input' },
  });
  if (mode === 'block')
    return {
      action: 'block',
      reason: `sensitive data in the prompt: ${types.join(', ')}`,
      message: fromTool ? hits[0] : own[0],
    };
  return { action: 'allow' };
}

const piece = fc.constantFrom(
  'hello ',
  'alice@example.com ',
  'call +1 415 555 0100 ',
  'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD ',
  '4111 1111 1111 1111 ',
  'ok',
  '',
);
const message = fc.record({
  role: fc.constantFrom('user', 'assistant', 'system', 'developer', 'tool'),
  content: fc.array(piece, { maxLength: 4 }).map((p) => p.join('')),
});

describe('piiGuard modes', () => {
  it('detect and block: the same decision and event as before, on random conversations', () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 5 }),
        fc.constantFrom('detect' as const, 'block' as const),
        (messages, mode) => {
          const now = ctxFor(messages);
          const before = ctxFor(messages);
          expect(piiGuard({ mode }).check(now.ctx.input, now.ctx)).toEqual(
            previousCheck(mode, before.ctx.input, before.ctx),
          );
          expect(now.events).toEqual(before.events);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('has a chunk check only where it acts on a stream (block and redact modes, output direction)', () => {
    expect(typeof piiGuard({ mode: 'block' }).checkChunk).toBe('function');
    expect(typeof piiGuard({ mode: 'block', directions: ['output'] }).checkChunk).toBe('function');
    expect(piiGuard({ mode: 'block', directions: ['input'] }).checkChunk).toBeUndefined();
    expect(piiGuard({ mode: 'detect' }).checkChunk).toBeUndefined();
    expect(typeof piiGuard({ mode: 'redact' }).checkChunk).toBe('function');
    expect(typeof piiGuard().checkChunk).toBe('function');
    expect(piiGuard({ mode: 'redact', directions: ['input'] }).checkChunk).toBeUndefined();
  });

  it("each allow answer is the caller's own: changing one does not change the next", () => {
    const { ctx } = ctxFor([{ role: 'user', content: 'hello' }]);
    const guard = piiGuard({ mode: 'detect' });
    const d = guard.check(ctx.input, ctx) as GuardDecision;
    expect(d).toEqual({ action: 'allow' });
    (d as { action: string }).action = 'block';
    expect(guard.check(ctx.input, ctx)).toEqual({ action: 'allow' });
  });
});
