import fc from 'fast-check';
import { detectSensitive } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import type { GuardDecision } from '../src/instrumentation/index.ts';
import { messageText } from '../src/instrumentation/message-text.ts';
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

describe('piiGuard redact: the write-back costs about what finding the data did', () => {
  it('a key in the first part and a list of 150 contacts in the third (300 lines deleted plus inserted): inside the step budget, the middle part sent as it was', () => {
    const list = Array.from({ length: 150 }, (_, i) => `Name Surname ${i} <contact.person${i}@example.com>`);
    const parts = [
      { type: 'text', text: `Deploy key:\n${KEY}` },
      { type: 'text', text: 'Untouched middle part.', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: `Contacts:\n${list.join('\n')}` },
    ];
    const body = { model: 'm', messages: [{ role: 'user', content: parts }] };
    const input = openaiChatAdapter.guardInput(body);
    const decision = piiGuard({ mode: 'redact' }).check(input, recordingContext(input).ctx) as GuardDecision;
    if (decision.action !== 'modify') throw new Error('expected a modify');
    const sent = openaiChatAdapter.applyInput(body, decision.messages, decision.system) as typeof body;
    expect(sent.messages[0]!.content).toEqual([
      { type: 'text', text: 'Deploy key:\n[REDACTED:private_key]' },
      parts[1],
      {
        type: 'text',
        text: `Contacts:\n${list.map((l) => l.replace(/<.*>/, '<[REDACTED:email]>')).join('\n')}`,
      },
    ]);
  });

  it('100 messages, each a key and 250 one-email lines in two parts: applyInput under 14x piiGuard.check (CPU, best of 5)', () => {
    // Each message needs a line diff of 508 lines deleted plus inserted (under MAX_EDITS), which
    // Myers' diff pays about D^2 / 2 for whatever the text's size: with a fixed step cap the
    // write-back took ~21-23x the check (164 ms against 7 ms for 50 messages); the step budget in
    // proportion to the text (line-align.ts) makes it 5-8x (load 1-3); the bound sits between.
    const lines = [KEY];
    for (let i = 0; i < 250; i++) lines.push('', `u${i}@b.co`);
    const text = lines.join('\n');
    const half = text.indexOf('\n', text.length >> 1);
    const message = {
      role: 'user',
      content: [
        { type: 'text', text: text.slice(0, half) },
        { type: 'text', text: text.slice(half + 1) },
      ],
    };
    const body = { model: 'm', messages: Array.from({ length: 100 }, () => message) };
    const input = openaiChatAdapter.guardInput(body);
    const guard = piiGuard({ mode: 'redact' });
    const cpuMs = (fn: () => unknown): number => {
      const t0 = process.threadCpuUsage();
      fn();
      const t = process.threadCpuUsage(t0);
      return (t.user + t.system) / 1000;
    };
    let check = Infinity;
    let apply = Infinity;
    for (let i = 0; i < 5; i++) {
      let decision: GuardDecision | undefined;
      check = Math.min(
        check,
        cpuMs(() => (decision = guard.check(input, recordingContext(input).ctx) as GuardDecision)),
      );
      if (decision?.action !== 'modify') throw new Error('expected a modify');
      const d = decision;
      let sent: unknown;
      apply = Math.min(
        apply,
        cpuMs(() => (sent = openaiChatAdapter.applyInput(body, d.messages, d.system))),
      );
      expect(JSON.stringify(sent)).not.toContain('@b.co');
    }
    expect(
      apply / Math.max(check, 2),
      `check ${check.toFixed(1)} ms, applyInput ${apply.toFixed(1)} ms`,
    ).toBeLessThan(14);
  });
});

describe('piiGuard redact: what is sent is the text of the guard', () => {
  it('property: parts of keys, emails, empty and plain lines: the message sent reads back as exactly the redacted text, with no key or email character left and no new empty part', () => {
    const guard = piiGuard({ mode: 'redact' });
    const piece = fc.constantFrom('', 'hi', 'a@b.co', KEY, 'x a@b.co y', `${KEY}\n`, 'plain\ntext');
    fc.assert(
      fc.property(
        fc.array(fc.array(piece, { minLength: 1, maxLength: 6 }), { minLength: 2, maxLength: 5 }),
        (parts) => {
          const content = parts.map((p) => ({ type: 'text', text: p.join('\n') }));
          const body = { model: 'm', messages: [{ role: 'user', content }] };
          const input = openaiChatAdapter.guardInput(body);
          const decision = guard.check(input, recordingContext(input).ctx) as GuardDecision;
          if (decision.action !== 'modify') return;
          const sent = openaiChatAdapter.applyInput(body, decision.messages, decision.system) as typeof body;
          expect(messageText(sent.messages[0])).toBe(decision.messages?.[0]?.content);
          const wire = JSON.stringify(sent);
          // The parts are read back to back, as the model reads them: an email glued to the
          // next ('a@b.co' + 'a@b.co') is one match and leaves '@b.co', no address; nothing
          // the detectors find is left in what is sent.
          expect(detectSensitive(messageText(sent.messages[0]))).toEqual([]);
          expect(wire).not.toContain('MIIE');
          const empty = (c: readonly { text: string }[]) => c.filter((p) => p.text === '').length;
          expect(empty(sent.messages[0]!.content)).toBeLessThanOrEqual(empty(content));
        },
      ),
      { numRuns: 500 },
    );
  });
});
