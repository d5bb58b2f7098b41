import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import type { GuardDecision } from '../src/instrumentation/index.ts';
import { openaiChatAdapter } from '../src/instrumentation/openai-chat.ts';
import { recordingContext } from './guard-context.ts';

/**
 * piiGuard's redaction of one OpenAI chat message with several content parts, through the
 * adapter's write-back (message-text.ts, slot-lines.ts): a private key redacted to one line in
 * the first part and an email in the third leave the second part as it was. Before the line
 * alignment the three parts became one (the key's), the other two removed.
 */
const KEY = [
  '-----BEGIN RSA PRIVATE KEY-----',
  ...Array.from({ length: 6 }, (_, i) => `MIIEpAIBAAKCAQEA${String(i).repeat(48)}`),
  '-----END RSA PRIVATE KEY-----',
].join('\n');

describe('piiGuard redact: a message with several content parts', () => {
  it('a key in the first part and an email in the third: each redacted in its part, the second sent as it was', () => {
    const parts = [
      { type: 'text', text: `Deploy key:\n${KEY}` },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      { type: 'text', text: 'The diagram above.\nPlease review.' },
      { type: 'text', text: 'Send it to jane.doe@example.com today.' },
    ];
    const body = { model: 'm', messages: [{ role: 'user', content: parts }] };
    const input = openaiChatAdapter.guardInput(body);
    const r = recordingContext(input);
    const decision = piiGuard({ mode: 'redact' }).check(input, r.ctx) as GuardDecision;
    expect(decision.action).toBe('modify');
    if (decision.action !== 'modify') return;
    const sent = openaiChatAdapter.applyInput(body, decision.messages, decision.system) as typeof body;
    expect(sent.messages[0]!.content).toEqual([
      { type: 'text', text: 'Deploy key:\n[REDACTED:private_key]' },
      parts[1],
      parts[2],
      { type: 'text', text: 'Send it to [REDACTED:email] today.' },
    ]);
  });
});
