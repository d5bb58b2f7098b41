import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';
import { anthropicEvent, anthropicStream } from './fixtures/anthropic-reply.ts';
import { piiAnthropic } from './fixtures/pii-guarded-client.ts';

/**
 * An Anthropic stream that sends a text block whole, in its `content_block_start` (the API
 * sends '' there and the text in deltas; a proxy that turns a complete answer into events can
 * send it so). Only redact read that text (rewritten whole): block delivered it and the end
 * check never read it, detect reported nothing, and the reader's finalMessage() held the
 * address. Through @anthropic-ai/sdk against the fake server.
 */

const EMAIL = 'jane.doe@example.com';
const leaks = (v: unknown) => /jane|e@example|example\.com/.test(JSON.stringify(v));

const BASE = { id: 'msg_w', model: 'claude-haiku-4-5', usage: { input_tokens: 1, output_tokens: 1 } };

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path !== '/v1/messages') return undefined;
  const block = { type: 'text', text: `Write to ${EMAIL}.` };
  return {
    kind: 'sse',
    events: anthropicStream(
      BASE,
      [
        anthropicEvent('content_block_start', { index: 0, content_block: block }),
        anthropicEvent('content_block_stop', { index: 0 }),
      ],
      'end_turn',
      4,
    ),
  };
}

const h = useInstrHarness({ script });

const ask = {
  model: 'claude-haiku-4-5',
  max_tokens: 50,
  stream: true as const,
  messages: [{ role: 'user' as const, content: 'hi' }],
};
const piiEvents = () => h.recorded.filter((e) => e.category === 'pii_detected');

describe('a text block sent whole in content_block_start', () => {
  it('block: cut before the block start reaches the reader', async () => {
    const s = await piiAnthropic(h, 'block').messages.create(ask);
    const got: unknown[] = [];
    const reading = (async () => {
      for await (const e of s) got.push(e);
    })();
    await expect(reading).rejects.toBeInstanceOf(OutputBlockedError);
    expect(leaks(got)).toBe(false);
  });

  it('detect: one pii_detected', async () => {
    h.recorded.length = 0;
    const s = await piiAnthropic(h, 'detect').messages.create(ask);
    for await (const _ of s);
    expect(piiEvents()).toHaveLength(1);
  });

  it('redact: redacted as before (block start, finalMessage()), and now reported: one pii_detected', async () => {
    h.recorded.length = 0;
    const s = piiAnthropic(h, 'redact').messages.stream({ ...ask, stream: undefined });
    const got: unknown[] = [];
    for await (const e of s) got.push(e);
    const final = await s.finalMessage();
    expect(leaks(got)).toBe(false);
    expect(leaks(final)).toBe(false);
    expect(piiEvents()).toHaveLength(1);
  });
});
