/**
 * The request estimate counts text wherever a body may carry it, not only message content: the
 * client writes the body, so a field the estimate skips is where it puts its text. Tool call
 * arguments in the history, tool outputs as Responses items, a plain-text document's data, tool
 * definitions: each is billed as input by the provider, and each estimated at a handful of tokens
 * (a 765-token media part at most), so 200,000 characters went past the token and cost
 * reservations and `estimate_exceeds_limit`, in as many concurrent requests as the client sent.
 */
import { describe, expect, it } from 'vitest';
import { estimateRequestBody } from '../src/index.ts';
import { estimateTokens } from '../src/estimate/tokens.ts';

/** 200,000 characters of varied words (a deterministic generator: no repeated piece). */
function prose(n: number): string {
  const words = [
    'ledger',
    'harbor',
    'quiet',
    'seven',
    'amber',
    'render',
    'violet',
    'token',
    'maple',
    'drift',
  ];
  let x = 7;
  let s = '';
  while (s.length < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += `${words[x % words.length]}${x % 97} `;
  }
  return s.slice(0, n);
}

const TEXT = prose(200_000);
const MODEL = 'gpt-4o-mini';
const user = { role: 'user', content: 'hi' };

const BODIES: Record<string, object> = {
  'chat: an assistant tool call’s arguments in the history': {
    messages: [
      user,
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: TEXT } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ],
  },
  'chat: a legacy function_call’s arguments in the history': {
    messages: [user, { role: 'assistant', content: null, function_call: { name: 'f', arguments: TEXT } }],
  },
  'chat: a tool definition’s description': {
    messages: [user],
    tools: [{ type: 'function', function: { name: 'f', description: TEXT, parameters: { type: 'object' } } }],
  },
  'chat: a json_schema response format': {
    messages: [user],
    response_format: { type: 'json_schema', json_schema: { name: 's', schema: { description: TEXT } } },
  },
  'Responses: a function_call_output item': {
    input: [user, { type: 'function_call_output', call_id: 'c1', output: TEXT }],
  },
  'Responses: a function_call item’s arguments': {
    input: [user, { type: 'function_call', call_id: 'c1', name: 'f', arguments: TEXT }],
  },
  'Responses: a custom_tool_call_output item': {
    input: [user, { type: 'custom_tool_call_output', call_id: 'c1', output: TEXT }],
  },
  'Anthropic: a plain-text document': {
    messages: [
      {
        role: 'user',
        content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: TEXT } }],
      },
    ],
  },
  'Anthropic: a tool’s description': {
    messages: [user],
    tools: [{ name: 'f', description: TEXT, input_schema: { type: 'object' } }],
  },
};

describe('estimateRequestBody counts text outside message content', () => {
  const plain = estimateTokens(TEXT, MODEL);

  for (const [label, body] of Object.entries(BODIES)) {
    it(label, () => {
      const estimate = estimateRequestBody({ model: MODEL, ...body });
      // The same text as message content estimates `plain`; here it may be framed or escaped
      // differently (JSON), but never counted as next to nothing.
      expect(estimate.inputTokens).toBeGreaterThan(plain * 0.8);
    });
  }

  it('legacy completions and embeddings: a prompt of token ids counts a token each', () => {
    const ids = Array.from({ length: 50_000 }, (_, i) => i % 1000);
    for (const body of [{ prompt: ids }, { prompt: [ids] }, { input: ids }, { input: [ids, ids] }]) {
      expect(
        estimateRequestBody({ model: 'gpt-3.5-turbo-instruct', ...body }).inputTokens,
      ).toBeGreaterThanOrEqual(50_000);
    }
  });

  it('control: an image part still counts as one fixed figure, not as its base64', () => {
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(400_000)}` } };
    const estimate = estimateRequestBody({ model: MODEL, messages: [{ role: 'user', content: [image] }] });
    expect(estimate.inputTokens).toBeLessThan(1_000);
  });
});
