import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import type { GuardDecision } from '../src/instrumentation/index.ts';
import { openaiChatAdapter } from '../src/instrumentation/openai-chat.ts';
import { recordingContext } from './guard-context.ts';

/**
 * Known limit (sdk instrumentation README, Guards): the input guards read a message's text
 * parts joined with '\n' (message-text.ts), so personal data cut across two parts ("jane@exa" +
 * "mple.com") is in no line a detector reads whole, and is neither reported nor redacted. Not
 * fixed: seeing the parts joined with '' too needs where the parts meet in GuardMessage (an API
 * addition), a second scan of every multi-part message, and a redaction that maps back across
 * the cut. The it.fails tests turn red when it is fixed.
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

  it.fails('an email cut across two text parts is reported (known limit)', () => {
    expect(run('detect', ['Mail it to jane@exa', 'mple.com please']).emitted).toEqual(['pii_detected']);
  });

  it.fails('an email cut across two text parts does not reach the provider (known limit)', () => {
    const { sent } = run('redact', ['Mail it to jane@exa', 'mple.com please']);
    expect(sent).not.toContain('jane@exa');
  });
});
