import { detectSensitive, redact } from '@llmsec/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import type { GuardDecision } from '../src/instrumentation/index.ts';
import { messageText } from '../src/instrumentation/message-text.ts';
import { openaiChatAdapter } from '../src/instrumentation/openai-chat.ts';
import { recordingContext } from './guard-context.ts';

/**
 * Personal data cut across two text parts of one message ("jane@exa" + "mple.com"): the model
 * reads the parts back to back, and so do the input guards now (message-text.ts joins adjacent
 * text parts with ''). Was a known limit (it.fails here): with the parts joined with '\n' the
 * email was in no line a detector read whole, and was neither reported nor redacted. The same
 * through the real clients, and for the injection patterns: guard-cross-part.test.ts.
 */

const body = (parts: string[]) => ({
  model: 'm',
  messages: [{ role: 'user', content: parts.map((text) => ({ type: 'text', text })) }],
});

function run(mode: 'detect' | 'redact', parts: string[]) {
  const b = body(parts);
  const input = openaiChatAdapter.guardInput(b);
  const r = recordingContext(input);
  const decision = piiGuard({ mode }).check(input, r.ctx) as GuardDecision;
  const sent =
    decision.action === 'modify' ? openaiChatAdapter.applyInput(b, decision.messages, decision.system) : b;
  return { emitted: r.emitted, sent: JSON.stringify(sent) };
}

describe('piiGuard: personal data across text parts of one message', () => {
  it('an email whole in one of several text parts is reported and redacted (the control)', () => {
    expect(run('detect', ['Mail it to', 'jane@example.com please']).emitted).toEqual(['pii_detected']);
    const { sent } = run('redact', ['Mail it to', 'jane@example.com please']);
    expect(sent).not.toContain('jane@');
    expect(sent).toContain('[REDACTED:email]');
  });

  it('an email cut across two text parts is reported', () => {
    expect(run('detect', ['Mail it to jane@exa', 'mple.com please']).emitted).toEqual(['pii_detected']);
  });

  it('an email cut across two text parts does not reach the provider: both pieces are removed', () => {
    const { sent } = run('redact', ['Mail it to jane@exa', 'mple.com please']);
    expect(sent).not.toContain('jane@exa');
    expect(sent).not.toContain('mple.com');
    expect(JSON.parse(sent).messages[0].content).toEqual([
      { type: 'text', text: 'Mail it to [REDACTED:email]' },
      { type: 'text', text: ' please' },
    ]);
  });
});

describe('piiGuard redact: emails cut anywhere across text parts', () => {
  it('property: the guard reads the parts back to back; what is sent is its text, with no piece of any address, no detectable data, no new empty part', () => {
    const guard = piiGuard({ mode: 'redact' });
    // Words and addresses; each address's local part and domain are unique, so a piece of one
    // left anywhere on the wire is found by its name.
    const token = fc.oneof(
      fc.constantFrom('Mail', 'it', 'to', 'please', 'and', 'or', '.', ',', '\n'),
      fc.nat({ max: 999 }).map((i) => `user${i}q@host${i}q.example.com`),
    );
    fc.assert(
      fc.property(
        fc.array(token, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (tokens, cutsRaw) => {
          const whole = tokens.join(' ');
          const cuts = [...new Set(cutsRaw.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
          const texts: string[] = [];
          let from = 0;
          for (const c of cuts) {
            texts.push(whole.slice(from, c));
            from = c;
          }
          texts.push(whole.slice(from));
          const content = texts.map((text, i) => ({ type: 'text', text, n: i }));
          const body = { model: 'm', messages: [{ role: 'user', content }] };
          const input = openaiChatAdapter.guardInput(body);
          // The guard reads what the model reads: the parts back to back.
          expect(input.messages[0]?.content).toBe(whole);
          const decision = guard.check(input, recordingContext(input).ctx) as GuardDecision;
          const expected = redact(whole).text;
          if (decision.action !== 'modify') {
            expect(expected).toBe(whole);
            return;
          }
          const sent = openaiChatAdapter.applyInput(body, decision.messages, decision.system) as typeof body;
          const sentText = messageText(sent.messages[0]);
          expect(sentText).toBe(expected);
          expect(detectSensitive(sentText)).toEqual([]);
          const wire = JSON.stringify(sent);
          for (const t of tokens)
            if (t.includes('@'))
              for (const piece of t.split(/[@.]/)) if (piece.endsWith('q')) expect(wire).not.toContain(piece);
          const parts = sent.messages[0]!.content;
          expect(parts.length).toBeLessThanOrEqual(content.length);
          const empty = (c: readonly { text: string }[]) => c.filter((p) => p.text === '').length;
          expect(empty(parts)).toBeLessThanOrEqual(empty(content));
          // Parts keep their order (their other fields say which they were).
          const order = parts.map((p) => p.n);
          expect(order).toEqual([...order].sort((a, b) => a - b));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
