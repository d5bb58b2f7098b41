import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { chatToolCallReply } from './fixtures/chat-tool-call-reply.ts';
import { MAIL_ASK } from './fixtures/chat-tool-call-read.ts';
import { piiOutputOptions, type PiiMode } from './fixtures/pii-guarded-client.ts';
import type { FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * Tool-call arguments are read as their JSON text (tool-arguments.ts), where a newline or a tab
 * in a string is the two characters `\n`, `\t`: the escape's letter glued to what follows made
 * 'n415-555-0123', 'tsk-proj-...', 'njane.doe@example.com' for core's detectors, which want a
 * word boundary. A multi-line mail body or note (the common tool argument) hid a phone, a card,
 * an SSN or a key on any line but the first from every mode, and redact took the 'n' into an
 * address's placeholder ('\[REDACTED:email]': not JSON), blocking an answer it could redact.
 */

/** The chat tool call's arguments: set per test. */
let args = '';

function anthropicReply(): FakeResponse {
  return {
    kind: 'json',
    body: {
      id: 'msg_e',
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [{ type: 'tool_use', id: 'toolu_1', name: 'send_mail', input: JSON.parse(args) as unknown }],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 5, output_tokens: 7 },
    },
  };
}

const h = useInstrHarness({
  script: (req) =>
    req.path.endsWith('/chat/completions')
      ? chatToolCallReply(req, { args, pieceChars: 6, id: 'chatcmpl-e' })
      : req.path === '/v1/messages'
        ? anthropicReply()
        : undefined,
});

type Mode = PiiMode;
const options = (mode: Mode) => piiOutputOptions(h, mode);
const ask = MAIL_ASK;

/** The arguments as the application got them: chat plain, chat streamed, Anthropic plain. */
const CALLS: Record<string, (mode: Mode) => Promise<string>> = {
  chat: async (mode) => {
    const c = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options(mode),
    );
    const tc = (await c.chat.completions.create({ model: 'gpt-4o-mini', messages: ask })).choices[0]?.message
      .tool_calls?.[0];
    return tc?.type === 'function' ? tc.function.arguments : '';
  },
  'chat, streamed': async (mode) => {
    const c = instrumentClient(
      new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
      options(mode),
    );
    const s = c.chat.completions.stream({ model: 'gpt-4o-mini', messages: ask });
    const tc = (await s.finalChatCompletion()).choices[0]?.message.tool_calls?.[0];
    return tc?.type === 'function' ? tc.function.arguments : '';
  },
  anthropic: async (mode) => {
    const c = instrumentClient(
      new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }),
      options(mode),
    );
    const m = await c.messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, messages: ask });
    return m.content[0]?.type === 'tool_use' ? JSON.stringify(m.content[0].input) : '';
  },
};

async function piiTypes(): Promise<string[]> {
  await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
  return h.recorded
    .filter((e: SecurityEvent) => e.category === 'pii_detected')
    .flatMap((e) => (e.metadata?.pii_types as string[] | undefined) ?? []);
}

const LINES: Array<[string, string]> = [
  ['phone', 'Call me:\n415-555-0123'],
  ['credit_card', 'Card:\n4111 1111 1111 1111'],
  ['us_ssn', 'SSN\n123-45-6789'],
  ['openai_api_key', 'key\tsk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD'],
];

describe('tool-call arguments: data after a JSON escape is read', () => {
  for (const [provider, call] of Object.entries(CALLS)) {
    for (const [type, body] of LINES)
      it(`${provider}: detect finds the ${type} on the line after a \\n or \\t`, async () => {
        args = JSON.stringify({ to: 'billing', body });
        expect(JSON.parse(await call('detect'))).toEqual({ to: 'billing', body });
        expect(await piiTypes()).toContain(type);
      });

    it(`${provider}: redact replaces an address starting a line, the escape kept, still JSON`, async () => {
      args = JSON.stringify({ body: 'Hi,\njane.doe@example.com wrote:\n\tthanks\\n' });
      const got = JSON.parse(await call('redact')) as unknown;
      expect(got).toEqual({ body: 'Hi,\n[REDACTED:email] wrote:\n\tthanks\\n' });
    });

    it(`${provider}: clean multi-line arguments pass redact unchanged`, async () => {
      args = JSON.stringify({ body: 'Line one\nline two\t\\tab\r\n"quoted" \\\\ end' });
      expect(await call('redact')).toBe(args);
      expect(await piiTypes()).toEqual([]);
    });
  }
});
