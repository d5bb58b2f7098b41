import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A beta answer that carries the MCP connector's blocks (mcp_tool_use, mcp_tool_result) before
 * the model's text, plain and streamed, through the real beta client: the output guards read
 * the text (piiGuard redact replaces an address cut across deltas, in the deltas and in
 * finalMessage()), the MCP blocks are delivered as they came, the span ends once. A client of
 * another shape (no beta, a beta that throws, a beta without create) keeps the rest.
 */

const EMAIL = 'jane.doe@example.com';
const TEXT = `The owner is ${EMAIL}, as the CRM says.`;
const MCP_USE = { type: 'mcp_tool_use', id: 'mcptoolu_1', name: 'lookup', server_name: 'crm', input: {} };
const MCP_RESULT = {
  type: 'mcp_tool_result',
  tool_use_id: 'mcptoolu_1',
  is_error: false,
  content: [{ type: 'text', text: 'owner: somebody' }],
};

function mcpAnswer(req: FakeRequest): FakeResponse | undefined {
  const message = {
    id: 'msg_mcp',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5',
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 12 },
  };
  if (req.body.stream !== true)
    return {
      kind: 'json',
      body: { ...message, content: [MCP_USE, MCP_RESULT, { type: 'text', text: TEXT }] },
    };
  const ev = (type: string, data: Record<string, unknown>) => ({ event: type, data: { type, ...data } });
  const cut = TEXT.indexOf(EMAIL) + 6;
  return {
    kind: 'sse',
    events: [
      ev('message_start', {
        message: {
          ...message,
          content: [],
          stop_reason: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        },
      }),
      ev('content_block_start', { index: 0, content_block: MCP_USE }),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', { index: 1, content_block: MCP_RESULT }),
      ev('content_block_stop', { index: 1 }),
      ev('content_block_start', { index: 2, content_block: { type: 'text', text: '' } }),
      ev('content_block_delta', { index: 2, delta: { type: 'text_delta', text: TEXT.slice(0, cut) } }),
      ev('content_block_delta', { index: 2, delta: { type: 'text_delta', text: TEXT.slice(cut) } }),
      ev('content_block_stop', { index: 2 }),
      ev('message_delta', {
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 12 },
      }),
      ev('message_stop', {}),
    ],
  };
}

const h = useInstrHarness({ script: mcpAnswer });
const REDACTED = TEXT.replace(EMAIL, '[REDACTED:email]');

function client() {
  return instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [piiGuard({ directions: ['output'] })] },
  });
}

const params = {
  model: 'claude-haiku-4-5',
  max_tokens: 100,
  betas: ['mcp-client-2025-04-04' as const],
  mcp_servers: [{ type: 'url' as const, url: 'https://mcp.example.com/sse', name: 'crm' }],
  messages: [{ role: 'user' as const, content: 'Who owns it?' }],
};

describe('Anthropic beta answers with MCP blocks', () => {
  it('plain: the text redacted, the MCP blocks kept as they came', async () => {
    const msg = await client().beta.messages.create(params);
    expect(msg.content).toEqual([MCP_USE, MCP_RESULT, { type: 'text', text: REDACTED }]);
    await eventually(() => h.spans().length === 1);
    expect(h.recorded.map((e) => e.category).sort()).toEqual(['pii_detected', 'request_completed']);
  });

  it('streamed through beta.messages.stream(): deltas and finalMessage() redacted, MCP blocks delivered', async () => {
    const stream = client().beta.messages.stream(params);
    let deltas = '';
    stream.on('text', (t) => (deltas += t));
    const final = await stream.finalMessage();
    expect(deltas).toBe(REDACTED);
    expect(final.content).toEqual([MCP_USE, MCP_RESULT, { type: 'text', text: REDACTED }]);
    await eventually(() => h.spans().length === 1);
    expect(h.spans()[0]?.attributes['gen_ai.usage.output_tokens']).toBe(12);
    expect(h.recorded.filter((e) => e.category === 'pii_detected')).toHaveLength(1);
  });
});

describe('clients of other shapes keep working', () => {
  const create = () => Promise.resolve({ content: [] });
  it('a beta getter that throws, a beta without messages.create: messages still wrapped, no throw', () => {
    const throwing = {
      messages: { create },
      get beta(): unknown {
        throw new Error('no beta here');
      },
    };
    expect(instrumentClient(throwing, h.options())).toBe(throwing);
    expect(throwing.messages.create).not.toBe(create);
    const partial = { messages: { create }, beta: { messages: {} } };
    expect(instrumentClient(partial, h.options())).toBe(partial);
    expect(partial.messages.create).not.toBe(create);
    expect(partial.beta.messages).toEqual({});
  });
});
