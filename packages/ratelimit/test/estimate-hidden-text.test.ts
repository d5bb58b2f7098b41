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
  'Responses: an mcp_call item’s arguments beside its output': {
    input: [
      user,
      { type: 'mcp_call', id: 'm1', server_label: 's', name: 'f', arguments: TEXT, output: 'ok' },
    ],
  },
  'Responses: a shell_call_output item’s stdout': {
    input: [
      user,
      {
        type: 'shell_call_output',
        call_id: 'c1',
        output: [{ stdout: TEXT, stderr: '', outcome: { type: 'exit', exit_code: 0 } }],
      },
    ],
  },
  'Responses: an apply_patch_call item’s diff': {
    input: [
      user,
      {
        type: 'apply_patch_call',
        call_id: 'c1',
        status: 'completed',
        operation: { type: 'update_file', path: 'a.ts', diff: TEXT },
      },
    ],
  },
  'Responses: a local_shell_call item’s command': {
    input: [
      user,
      {
        type: 'local_shell_call',
        id: 'l1',
        call_id: 'c1',
        status: 'completed',
        action: { type: 'exec', command: ['echo', TEXT], env: {} },
      },
    ],
  },
  'Responses: a stored prompt’s variables, one of them named input': {
    prompt: { id: 'pmpt_1', variables: { input: 'hi', question: TEXT } },
  },
  'Responses: an mcp_list_tools item’s schemas, a property named content among them': {
    input: [
      user,
      {
        type: 'mcp_list_tools',
        id: 'ml1',
        server_label: 's',
        tools: [
          {
            name: 'f',
            input_schema: {
              type: 'object',
              properties: { content: { type: 'string' }, note: { type: 'string', description: TEXT } },
            },
          },
        ],
      },
    ],
  },
  'Anthropic: a document of content blocks': {
    messages: [
      {
        role: 'user',
        content: [{ type: 'document', source: { type: 'content', content: [{ type: 'text', text: TEXT }] } }],
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

  // A screenshot or an image the provider bills by its pixels: as JSON, its base64 was counted
  // as text (273,735 tokens for a 300 KB PNG), and the limiter refused an honest agent's request.
  const dataUrl = `data:image/png;base64,${'iVBORw0KGgo'.repeat(40_000)}`;
  it('a computer_call_output screenshot counts as one image, not as its base64', () => {
    const body = {
      model: MODEL,
      input: [
        user,
        {
          type: 'computer_call',
          call_id: 'c1',
          action: { type: 'screenshot' },
          pending_safety_checks: [],
          status: 'completed',
        },
        {
          type: 'computer_call_output',
          call_id: 'c1',
          output: { type: 'computer_screenshot', image_url: dataUrl },
        },
      ],
    };
    expect(estimateRequestBody(body).inputTokens).toBeLessThan(1_000);
  });

  it('a stored prompt’s input_image and input_file variables count as media, not as their base64', () => {
    const body = {
      model: MODEL,
      prompt: {
        id: 'pmpt_1',
        variables: {
          question: 'what is in the picture?',
          picture: { type: 'input_image', image_url: dataUrl, detail: 'auto' },
          doc: { type: 'input_file', filename: 'a.pdf', file_data: dataUrl },
        },
      },
    };
    const estimate = estimateRequestBody(body).inputTokens;
    expect(estimate).toBeGreaterThan(2 * 765);
    expect(estimate).toBeLessThan(2_000);
  });

  it('reasoning carried back: the summary is read, the sealed content is not counted as text', () => {
    const body = {
      model: MODEL,
      input: [
        user,
        {
          type: 'reasoning',
          id: 'rs_1',
          summary: [{ type: 'summary_text', text: TEXT }],
          encrypted_content: 'gAAAA'.repeat(20_000),
        },
      ],
    };
    const estimate = estimateRequestBody(body).inputTokens;
    expect(estimate).toBeGreaterThan(plain * 0.8);
    expect(estimate).toBeLessThan(plain * 1.2);
  });

  it('control: an image part still counts as one fixed figure, not as its base64', () => {
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(400_000)}` } };
    const estimate = estimateRequestBody({ model: MODEL, messages: [{ role: 'user', content: [image] }] });
    expect(estimate.inputTokens).toBeLessThan(1_000);
  });
});
