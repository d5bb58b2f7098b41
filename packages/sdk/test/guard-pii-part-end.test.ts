import Anthropic from '@anthropic-ai/sdk';
import { detectSensitive } from '@llmsec/core';
import fc from 'fast-check';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { GuardrailBlockedError, instrumentClient, type GuardDecision } from '../src/instrumentation/index.ts';
import { messageText } from '../src/instrumentation/message-text.ts';
import { openaiChatAdapter } from '../src/instrumentation/openai-chat.ts';
import { recordingContext } from './guard-context.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * Personal data whole in one text part, with the next part going on without a space. Since
 * 54c25b7 the guards read text parts side by side back to back, so 'jane@example.com' +
 * '42 is your ticket' read 'jane@example.com42 is your ticket', in which core's detectors
 * find no address (the TLD runs into a digit; a phone into a letter; a card into one more
 * digit), and redact mode sent the address to the provider whole, in its own part (read with
 * '\n' between, as before, it was redacted). The provider receives each part's text whatever
 * the model makes of the join, so piiGuard reads each part on its own too (GuardMessage.cuts).
 * Through the real openai and @anthropic-ai/sdk clients against the fake server.
 */

const h = useInstrHarness();

const CASES: Array<[string, string, string]> = [
  ['an email, then a digit', 'Contact: jane@example.com', '42 is your ticket number.'],
  ['a phone, then a letter', 'Call +1 415 555 0100', 'Next week works too.'],
  ['a card, then a digit', 'Card 4111 1111 1111 1111', '5 items were ordered.'],
];

function openai(mode: 'redact' | 'block' | 'detect') {
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { input: [piiGuard({ mode, directions: ['input'] })] },
  });
}

describe('piiGuard: personal data at the end of a text part the next part runs on from', () => {
  for (const [name, first, second] of CASES) {
    const finding = first.slice(first.search(/[+0-9a-z]+[@ 0-9]/));
    it(`${name}: redact sends none of it; detect reports it; block refuses it (OpenAI chat)`, async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [
        {
          role: 'user',
          content: [
            { type: 'text', text: first },
            { type: 'text', text: second },
          ],
        },
      ];
      await openai('redact').chat.completions.create({ model: 'gpt-4o-mini', messages });
      const sent = JSON.stringify(h.fake.requests.at(-1)?.body);
      expect(sent).toContain('[REDACTED:');
      expect(sent).not.toContain(finding.slice(-8));
      h.reset();
      await openai('detect').chat.completions.create({ model: 'gpt-4o-mini', messages });
      expect(h.recorded.map((e) => e.category)).toContain('pii_detected');
      h.reset();
      const err = await openai('block')
        .chat.completions.create({ model: 'gpt-4o-mini', messages })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GuardrailBlockedError);
    });
  }

  it('Anthropic: an email at the end of a tool result’s first block is redacted there', async () => {
    const client = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), {
      ...h.options(),
      guards: { input: [piiGuard({ mode: 'redact' })] },
    });
    await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'Look the customer up.' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'crm', input: {} }] },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_1',
              content: [
                { type: 'text', text: 'email: jane@example.com' },
                { type: 'text', text: '2 open orders' },
              ],
            },
          ],
        },
      ],
    });
    const sent = h.fake.requests.at(-1)?.body as { messages: Array<{ content: unknown }> };
    expect(sent.messages[2]?.content).toEqual([
      {
        type: 'tool_result',
        tool_use_id: 'toolu_1',
        content: [
          { type: 'text', text: 'email: [REDACTED:email]' },
          { type: 'text', text: '2 open orders' },
        ],
      },
    ]);
  });
});

describe('piiGuard redact over random part layouts', () => {
  // Each sensitive word occurs once, so finding it on the wire means it was sent. Within a
  // part the words are apart (' ; ': a phone's groups do not run on into a card's), so each is
  // whole to a detector reading that part on its own; the parts run on into each other without
  // a space, so in the join many are not; further cuts put some across two parts.
  const CARDS = ['4111 1111 1111 1111', '5555 5555 5555 4444', '4012 8888 8888 1881', '6011 1111 1111 1117'];
  const SENSITIVE = [
    ...Array.from({ length: 6 }, (_, i) => `u${i}q@h${i}q.example.com`),
    ...Array.from({ length: 6 }, (_, i) => `+1 415 555 ${1000 + i}`),
    ...Array.from({ length: 6 }, (_, i) => `123-45-${1000 + i}`),
    ...CARDS,
  ];
  it('property: a word whole in one part sent is gone from the wire; nothing detectable in the join (2,000 runs)', () => {
    const guard = piiGuard({ mode: 'redact' });
    const word = fc.oneof(
      fc.constantFrom('Mail', 'to', '42', 'x', '.'),
      fc.nat({ max: SENSITIVE.length - 1 }).map((i) => SENSITIVE[i] as string),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(word, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        (wordsRaw, cutsRaw) => {
          const seen = new Set<string>();
          const words = wordsRaw.map((ws) =>
            ws.map((w) => (SENSITIVE.includes(w) && seen.has(w) ? 'Mail' : (seen.add(w), w))),
          );
          let texts = words.map((w) => w.join(' ; '));
          for (const c of cutsRaw) {
            const i = c % texts.length;
            const t = texts[i] as string;
            const at = c % (t.length + 1);
            texts = [...texts.slice(0, i), t.slice(0, at), t.slice(at), ...texts.slice(i + 1)];
          }
          const body = {
            model: 'm',
            messages: [{ role: 'user', content: texts.map((text) => ({ type: 'text', text })) }],
          };
          const input = openaiChatAdapter.guardInput(body);
          const decision = guard.check(input, recordingContext(input).ctx) as GuardDecision;
          const sent =
            decision.action === 'modify'
              ? (openaiChatAdapter.applyInput(body, decision.messages, decision.system) as typeof body)
              : body;
          const wire = JSON.stringify(sent);
          for (const w of SENSITIVE)
            if (texts.some((t) => t.includes(w)))
              expect(wire, `${w} in ${texts.join(' | ')}`).not.toContain(w);
          expect(detectSensitive(messageText(sent.messages[0]))).toEqual([]);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('piiGuard reading parts apart: linear', () => {
  it('a message of 1 MiB in 16-character parts, each ending in a digit run the next runs on from, an address every 4th part: at most 6x the time of a quarter of it, under 1 s', () => {
    const guard = piiGuard({ mode: 'redact', maxChars: 1 << 21 });
    const body = (chars: number) => ({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: Array.from({ length: chars / 16 }, (_, i) => ({
            type: 'text',
            text: i % 4 === 0 ? `a${i % 10}@b.example.com` : `${(i % 9) + 1} 4111 1111 1`.padEnd(16, '1'),
          })),
        },
      ],
    });
    const run = (chars: number) => {
      const b = body(chars);
      const input = openaiChatAdapter.guardInput(b);
      const d = guard.check(input, recordingContext(input).ctx) as GuardDecision;
      return d.action === 'modify' ? openaiChatAdapter.applyInput(b, d.messages, d.system) : b;
    };
    expect(JSON.stringify(run(4096))).toContain('[REDACTED:email]');
    const cpuMs = (n: number) => {
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = process.threadCpuUsage();
        run(n);
        const t = process.threadCpuUsage(t0);
        best = Math.min(best, (t.user + t.system) / 1000);
      }
      return Math.max(best, 25);
    };
    let small = Infinity;
    let large = Infinity;
    for (let attempt = 0; attempt < 4 && !(large / small < 6); attempt++) {
      small = Math.min(small, cpuMs(256 * 1024));
      large = Math.min(large, cpuMs(1024 * 1024));
    }
    const detail = `256 KiB ${small.toFixed(1)} ms, 1 MiB ${large.toFixed(1)} ms`;
    expect(large / small, detail).toBeLessThan(6);
    expect(large, detail).toBeLessThan(1000);
  });
});
