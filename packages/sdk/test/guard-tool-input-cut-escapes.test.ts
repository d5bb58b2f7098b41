import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { readableJson } from '../src/instrumentation/tool-arguments.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { piiAnthropic } from './fixtures/pii-guarded-client.ts';

/**
 * A tool input cut before its JSON ends (the answer reached max_tokens inside the block: the
 * API still sends its content_block_stop) is read by @anthropic-ai/sdk's MessageStream with a
 * lenient parser: `{"to":"jane\u0040example.com"` gives the application the input
 * `{to: 'jane@example.com'}`. Its `\u` escapes were decoded for the guards only when the text
 * parsed as JSON, so this address passed detect, block and redact. Found in review.
 */

const ARGS = '{"to":"jane\\u0040example.com","body":"Your ref';

function reply(req: FakeRequest): FakeResponse | undefined {
  if (req.path !== '/v1/messages') return undefined;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, ...data },
  });
  const pieces: string[] = [];
  for (let i = 0; i < ARGS.length; i += 6) pieces.push(ARGS.slice(i, i + 6));
  const message = {
    id: 'msg_c',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 1 },
  };
  return {
    kind: 'sse',
    events: [
      ev('message_start', { message }),
      ev('content_block_start', {
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_1', name: 'send_mail', input: {} },
      }),
      ...pieces.map((p) =>
        ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: p } }),
      ),
      ev('content_block_stop', { index: 0 }),
      ev('message_delta', {
        delta: { stop_reason: 'max_tokens', stop_sequence: null },
        usage: { output_tokens: 20 },
      }),
      ev('message_stop', {}),
    ],
  };
}

const h = useInstrHarness({ script: reply });

const params = {
  model: 'claude-haiku-4-5',
  max_tokens: 20,
  messages: [{ role: 'user' as const, content: 'x' }],
};

function piiEvents(): SecurityEvent[] {
  return h.recorded.filter((e) => e.category === 'pii_detected');
}

describe('a tool input cut before its JSON ends: its \\u escapes are read', () => {
  it('readableJson decodes the escapes of JSON text cut short, not of free text', () => {
    expect(readableJson(ARGS)).toBe('{"to":"jane@example.com","body":"Your ref');
    expect(readableJson(' [ "a\\u0040b.com"')).toBe(' [ "a@b.com"');
    expect(readableJson('mail jane\\u0040x.com')).toBe('mail jane\\u0040x.com');
  });

  it('the SDK gives the application the address (why it matters)', async () => {
    const final = await piiAnthropic(h, 'detect').messages.stream(params).finalMessage();
    const tool = final.content[0];
    expect(tool?.type === 'tool_use' ? tool.input : undefined).toMatchObject({ to: 'jane@example.com' });
  });

  it('detect reports it in the tool arguments', async () => {
    await piiAnthropic(h, 'detect').messages.stream(params).finalMessage();
    await eventually(() => piiEvents().length > 0);
    expect(piiEvents()[0]!.metadata).toMatchObject({ pii_types: ['email'], found_in: ['tool_arguments'] });
  });

  it('block refuses the stream before the input reaches the reader', async () => {
    const seen: unknown[] = [];
    const read = async () => {
      const s = await piiAnthropic(h, 'block').messages.create({ ...params, stream: true });
      for await (const e of s) seen.push(e);
    };
    await expect(read()).rejects.toBeInstanceOf(OutputBlockedError);
    expect(JSON.stringify(seen)).not.toMatch(/jane/);
  });

  it('redact: finalMessage() holds the placeholder, not the address', async () => {
    const final = await piiAnthropic(h, 'redact').messages.stream(params).finalMessage();
    const tool = final.content[0];
    const input = tool?.type === 'tool_use' ? tool.input : undefined;
    expect(input).toMatchObject({ to: '[REDACTED:email]' });
    expect(JSON.stringify(final)).not.toMatch(/jane/);
  });
});
