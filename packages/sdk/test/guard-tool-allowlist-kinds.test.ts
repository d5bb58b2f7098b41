import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { toolAllowlistGuard } from '../src/guards/index.ts';
import { GuardrailBlockedError, instrumentClient, OutputBlockedError } from '../src/instrumentation/index.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * toolAllowlistGuard sees every kind of tool the OpenAI APIs declare and call, not only
 * functions: a custom tool (`{type:'custom', custom:{name}}` in chat, `custom_tool_call` items in
 * Responses) is a tool the application runs as a function's, and a client that chooses the
 * request's tools (a gateway forwarding them) declared one the allowlist never saw. Through
 * openai 7 against the fake server, answers scripted.
 */

let next: FakeResponse | undefined;
const h = useInstrHarness({ script: (_req: FakeRequest) => next });

const ALLOWED = ['get_weather'];

function client(): OpenAI {
  const guard = toolAllowlistGuard({ allowed: ALLOWED });
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { input: [guard], output: [guard] },
  });
}

const weather = {
  type: 'function' as const,
  function: { name: 'get_weather', parameters: { type: 'object' } },
};

async function blockedTool(): Promise<unknown> {
  await eventually(() => h.recorded.some((e) => e.category === 'tool_abuse_attempt'));
  return h.recorded.find((e) => e.category === 'tool_abuse_attempt')?.metadata?.tool_name;
}

describe('toolAllowlistGuard: custom tools', () => {
  it('chat: a declared custom tool outside the allowlist blocks the request', async () => {
    next = undefined;
    const err = await client()
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        tools: [weather, { type: 'custom', custom: { name: 'run_shell' } }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuardrailBlockedError);
    expect(await blockedTool()).toBe('run_shell');
    expect(h.fake.requests).toHaveLength(0);
  });

  it('chat: a tool naming a listed function beside its custom name is read by both names', async () => {
    next = undefined;
    // What a gateway checking only function.name forwards; the API runs a custom tool by custom.name.
    const decoy = { type: 'custom', function: { name: 'get_weather' }, custom: { name: 'run_shell' } };
    const err = await client()
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        tools: [decoy as unknown as OpenAI.ChatCompletionTool],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuardrailBlockedError);
    expect(await blockedTool()).toBe('run_shell');
  });

  it('Responses: a custom_tool_call outside the allowlist blocks the response', async () => {
    next = {
      kind: 'json',
      body: {
        id: 'resp_1',
        object: 'response',
        created_at: 1,
        model: 'gpt-4o-mini',
        status: 'completed',
        output: [
          { type: 'custom_tool_call', id: 'ctc_1', call_id: 'call_1', name: 'run_shell', input: 'rm -rf /' },
        ],
        usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
      },
    };
    const err = await client()
      .responses.create({
        model: 'gpt-4o-mini',
        input: 'hi',
        tools: [{ type: 'function', name: 'get_weather', parameters: {}, strict: false }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputBlockedError);
    expect(await blockedTool()).toBe('run_shell');
  });

  it('control: a function call inside the allowlist passes', async () => {
    next = {
      kind: 'json',
      body: {
        id: 'resp_2',
        object: 'response',
        created_at: 1,
        model: 'gpt-4o-mini',
        status: 'completed',
        output: [
          { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '{}' },
        ],
        usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
      },
    };
    const res = await client().responses.create({ model: 'gpt-4o-mini', input: 'hi' });
    expect(res.output[0]?.type).toBe('function_call');
    await eventually(() => h.recorded.some((e) => e.category === 'request_completed'));
    expect(h.recorded.map((e) => e.category)).not.toContain('tool_abuse_attempt');
  });
});

const chatBase = { id: 'chatcmpl-t', created: 1, model: 'gpt-4o-mini' };

/** A chat completion whose one choice's message is `message`. */
function chatAnswer(message: object): FakeResponse {
  return {
    kind: 'json',
    body: {
      ...chatBase,
      object: 'chat.completion',
      choices: [
        { index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, ...message } },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    },
  };
}

/** A chat stream whose one chunk's delta is `delta`. */
function chatStream(delta: object): FakeResponse {
  const chunk = (d: object, finish: string | null) => ({
    data: {
      ...chatBase,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: d, finish_reason: finish }],
    },
  });
  return { kind: 'sse', events: [chunk(delta, null), chunk({}, 'tool_calls'), { data: '[DONE]' }] };
}

async function chat(stream: boolean, extra: object = {}): Promise<unknown> {
  const c = client();
  const body = {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user' as const, content: 'hi' }],
    tools: [weather],
    ...extra,
  };
  return await (async () => {
    if (!stream) return await c.chat.completions.create(body);
    const s = await c.chat.completions.create({ ...body, stream: true });
    for await (const _ of s);
  })().then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('toolAllowlistGuard: chat custom tool calls and legacy functions', () => {
  const custom = { id: 'call_1', type: 'custom', custom: { name: 'run_shell', input: 'rm -rf /' } };
  const legacy = { name: 'run_shell', arguments: '{}' };

  it('a custom tool call outside the allowlist blocks the response', async () => {
    next = chatAnswer({ tool_calls: [custom] });
    expect(await chat(false)).toBeInstanceOf(OutputBlockedError);
    expect(await blockedTool()).toBe('run_shell');
  });

  // As a declared tool's (f9e2d3d): a call naming a listed function beside its custom name, as a
  // proxy checking only function.name would pass it, is read by both names.
  const decoy = { ...custom, function: { name: 'get_weather', arguments: '{}' } };
  it('a tool call naming a listed function beside its custom name blocks the response', async () => {
    next = chatAnswer({ tool_calls: [decoy] });
    expect(await chat(false)).toBeInstanceOf(OutputBlockedError);
    expect(await blockedTool()).toBe('run_shell');
  });

  it('streamed, the same call blocks the stream', async () => {
    next = chatStream({ tool_calls: [{ index: 0, ...decoy }] });
    expect(await chat(true)).toBeInstanceOf(OutputBlockedError);
    expect(await blockedTool()).toBe('run_shell');
  });

  it('a streamed custom tool call outside the allowlist blocks the stream', async () => {
    next = chatStream({ role: 'assistant', tool_calls: [{ index: 0, ...custom }] });
    expect(await chat(true)).toBeInstanceOf(OutputBlockedError);
    expect(await blockedTool()).toBe('run_shell');
  });

  it('a legacy function_call outside the allowlist blocks the response', async () => {
    next = chatAnswer({ function_call: legacy });
    expect(await chat(false)).toBeInstanceOf(OutputBlockedError);
    expect(await blockedTool()).toBe('run_shell');
  });

  it('a streamed legacy function_call outside the allowlist blocks the stream', async () => {
    next = chatStream({ role: 'assistant', function_call: legacy });
    expect(await chat(true)).toBeInstanceOf(OutputBlockedError);
    expect(await blockedTool()).toBe('run_shell');
  });

  it('legacy functions declared outside the allowlist block the request', async () => {
    next = undefined;
    expect(
      await chat(false, { functions: [{ name: 'run_shell', parameters: { type: 'object' } }] }),
    ).toBeInstanceOf(GuardrailBlockedError);
    expect(await blockedTool()).toBe('run_shell');
    expect(h.fake.requests).toHaveLength(0);
  });

  it('control: a listed function called plain and streamed passes', async () => {
    const call = { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{}' } };
    next = chatAnswer({ tool_calls: [call] });
    expect(await chat(false)).toBeUndefined();
    next = chatStream({ role: 'assistant', tool_calls: [{ index: 0, ...call }] });
    expect(await chat(true)).toBeUndefined();
    await eventually(() => h.recorded.filter((e) => e.category === 'request_completed').length === 2);
    expect(h.recorded.map((e) => e.category)).not.toContain('tool_abuse_attempt');
  });
});

describe('toolAllowlistGuard: Responses tools without a name of their own', () => {
  /** A Responses request declaring `tools`, with `allowed` on the input side; the error (undefined when sent). */
  async function declare(tools: unknown[], allowed = ALLOWED): Promise<unknown> {
    next = undefined;
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { input: [toolAllowlistGuard({ allowed })] },
    });
    return await c.responses
      .create({ model: 'gpt-4o-mini', input: 'hi', tools: tools as OpenAI.Responses.Tool[] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
  }

  // Tools the application runs (a shell, file patches) or that send the conversation to a
  // server the request names (MCP): a client choosing the request's tools declared them unseen.
  const CASES: Array<[string, unknown, string]> = [
    ['local_shell', { type: 'local_shell' }, 'local_shell'],
    ['shell', { type: 'shell' }, 'shell'],
    ['apply_patch', { type: 'apply_patch' }, 'apply_patch'],
    ['mcp', { type: 'mcp', server_label: 'docs', server_url: 'https://mcp.example' }, 'mcp'],
    [
      'a function inside a namespace',
      {
        type: 'namespace',
        name: 'get_weather',
        tools: [{ type: 'function', name: 'run_shell', parameters: {} }],
      },
      'run_shell',
    ],
  ];
  for (const [label, tool, name] of CASES) {
    it(`${label}: declared outside the allowlist, the request is blocked`, async () => {
      expect(await declare([tool])).toBeInstanceOf(GuardrailBlockedError);
      expect(await blockedTool()).toBe(name);
      expect(h.fake.requests).toHaveLength(0);
    });
  }

  it('control: a listed hosted tool and a namespace of listed functions are sent', async () => {
    const tools = [
      { type: 'web_search' },
      {
        type: 'namespace',
        name: 'weather',
        tools: [{ type: 'function', name: 'get_weather', parameters: {} }],
      },
    ];
    expect(await declare(tools, ['get_weather', 'web_search'])).toBeUndefined();
    expect(h.fake.requests).toHaveLength(1);
    expect(h.recorded.map((e) => e.category)).not.toContain('tool_abuse_attempt');
  });
});

describe('toolAllowlistGuard: Anthropic MCP servers', () => {
  it('a request naming an MCP server (mcp_servers) is blocked unless mcp is listed', async () => {
    next = undefined;
    const c = (allowed: string[]) =>
      instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), {
        ...h.options(),
        guards: { input: [toolAllowlistGuard({ allowed })] },
      });
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      messages: [{ role: 'user' as const, content: 'hi' }],
      mcp_servers: [{ type: 'url' as const, url: 'https://mcp.example/sse', name: 'docs' }],
      betas: ['mcp-client-2025-04-04'],
    };
    const err = await c(ALLOWED)
      .beta.messages.create(body)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuardrailBlockedError);
    expect(await blockedTool()).toBe('mcp');
    expect(h.fake.requests).toHaveLength(0);
    await c(['mcp']).beta.messages.create(body);
    expect(h.fake.requests).toHaveLength(1);
    // The newer MCP beta also lists the server's tools as an mcp_toolset tool: the same 'mcp'.
    const toolset = { ...body, tools: [{ type: 'mcp_toolset' as const, mcp_server_name: 'docs' }] };
    await c(['mcp']).beta.messages.create({ ...toolset, betas: ['mcp-client-2025-11-20'] });
    expect(h.fake.requests).toHaveLength(2);
  });
});

describe('toolAllowlistGuard: Responses calls of tools without a name', () => {
  /** A Responses answer whose one output item is `item`, through an output allowlist of `allowed`. */
  async function answer(item: object, allowed = ALLOWED): Promise<unknown> {
    next = {
      kind: 'json',
      body: {
        id: 'resp_3',
        object: 'response',
        created_at: 1,
        model: 'gpt-4o-mini',
        status: 'completed',
        output: [item],
        usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
      },
    };
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [toolAllowlistGuard({ allowed })] },
    });
    return await c.responses.create({ model: 'gpt-4o-mini', input: 'hi' }).then(
      () => undefined,
      (e: unknown) => e,
    );
  }

  // Named as the request declares the tool (e5c4b3b): one list allows a tool on both sides.
  const CALLS: Array<[object, string]> = [
    [
      {
        type: 'local_shell_call',
        id: 'ls_1',
        call_id: 'c1',
        status: 'completed',
        action: { type: 'exec', command: ['rm', '-rf', '/'], env: {} },
      },
      'local_shell',
    ],
    [
      { type: 'shell_call', id: 'sh_1', call_id: 'c1', status: 'completed', action: { commands: ['id'] } },
      'shell',
    ],
    [
      {
        type: 'apply_patch_call',
        id: 'ap_1',
        call_id: 'c1',
        status: 'completed',
        operation: { type: 'delete_file', path: '/etc/passwd' },
      },
      'apply_patch',
    ],
    [
      { type: 'mcp_call', id: 'mcp_1', server_label: 'docs', name: 'fetch', arguments: '{}', output: 'x' },
      'mcp',
    ],
  ];
  for (const [item, name] of CALLS) {
    it(`a ${name} call outside the allowlist blocks the response; listed, it passes`, async () => {
      expect(await answer(item)).toBeInstanceOf(OutputBlockedError);
      expect(await blockedTool()).toBe(name);
      expect(await answer(item, [name])).toBeUndefined();
    });
  }
});

describe('toolAllowlistGuard: a Responses stream cut before its terminal event', () => {
  // Calls were read from the terminal event only (response.completed carries the output): a
  // stream that ended after the call's output_item events (a cut connection, a proxy leaving the
  // terminal event out) had its end check run with no tool call, and the allowlist passed a call
  // the reader already held.
  async function cutStream(item: Record<string, unknown>, allowed = ALLOWED): Promise<unknown> {
    const response = {
      id: 'resp_9',
      object: 'response',
      created_at: 1,
      model: 'gpt-4o-mini',
      status: 'in_progress',
      output: [],
    };
    next = {
      kind: 'sse',
      events: [
        { event: 'response.created', data: { type: 'response.created', sequence_number: 0, response } },
        {
          event: 'response.output_item.added',
          data: {
            type: 'response.output_item.added',
            sequence_number: 1,
            output_index: 0,
            item: { ...item, status: 'in_progress' },
          },
        },
        {
          event: 'response.output_item.done',
          data: { type: 'response.output_item.done', sequence_number: 2, output_index: 0, item },
        },
      ],
    };
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [toolAllowlistGuard({ allowed })] },
    });
    return await (async () => {
      const s = await c.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
      for await (const _ of s);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
  }

  const ITEMS: Array<[Record<string, unknown>, string]> = [
    [{ type: 'function_call', id: 'fc_1', call_id: 'c1', name: 'run_shell', arguments: '{}' }, 'run_shell'],
    [{ type: 'custom_tool_call', id: 'ct_1', call_id: 'c1', name: 'run_shell', input: 'ls' }, 'run_shell'],
    [{ type: 'shell_call', id: 'sh_1', call_id: 'c1', action: { commands: ['id'] } }, 'shell'],
  ];
  for (const [item, name] of ITEMS) {
    it(`a ${String(item.type)} outside the allowlist blocks the stream; listed, it passes`, async () => {
      expect(await cutStream(item)).toBeInstanceOf(OutputBlockedError);
      expect(await blockedTool()).toBe(name);
      expect(await cutStream(item, [name])).toBeUndefined();
    });
  }
});

describe('toolAllowlistGuard: Anthropic server and MCP tool calls', () => {
  /** An Anthropic answer whose one content block is `block`, plain or streamed, through an output allowlist. */
  async function answer(block: object, stream: boolean, allowed = ALLOWED): Promise<unknown> {
    const message = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1 },
    };
    next = stream
      ? {
          kind: 'sse',
          events: [
            { event: 'message_start', data: { type: 'message_start', message: { ...message, content: [] } } },
            {
              event: 'content_block_start',
              data: { type: 'content_block_start', index: 0, content_block: block },
            },
            { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
            {
              event: 'message_delta',
              data: {
                type: 'message_delta',
                delta: { stop_reason: 'end_turn' },
                usage: { output_tokens: 1 },
              },
            },
            { event: 'message_stop', data: { type: 'message_stop' } },
          ],
        }
      : { kind: 'json', body: { ...message, content: [block] } };
    const c = instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [toolAllowlistGuard({ allowed })] },
    });
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      messages: [{ role: 'user' as const, content: 'hi' }],
    };
    return await (async () => {
      if (!stream) return await c.messages.create(body);
      const s = await c.messages.create({ ...body, stream: true });
      for await (const _ of s);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
  }

  // Named as the request declares them: a server tool by its name, an MCP server as 'mcp' (2ee3a25).
  const CALLS: Array<[object, string]> = [
    [
      { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_fetch', input: { url: 'https://x.example' } },
      'web_fetch',
    ],
    [{ type: 'mcp_tool_use', id: 'mcptoolu_1', name: 'fetch', server_name: 'docs', input: {} }, 'mcp'],
  ];
  for (const [block, name] of CALLS)
    for (const stream of [false, true]) {
      it(`${name}${stream ? ', streamed' : ''}: blocked outside the allowlist, passed when listed`, async () => {
        expect(await answer(block, stream)).toBeInstanceOf(OutputBlockedError);
        expect(await blockedTool()).toBe(name);
        expect(await answer(block, stream, [name])).toBeUndefined();
      });
    }

  // The code execution tool (code_execution_20250825) is declared with the name code_execution,
  // and the model calls it as bash_code_execution or text_editor_code_execution (the SDK's
  // ServerToolUseBlock names): read by the block's name, an application listing the tool it
  // declares had every answer that ran code blocked.
  for (const sub of ['bash_code_execution', 'text_editor_code_execution'])
    for (const stream of [false, true]) {
      it(`${sub}${stream ? ', streamed' : ''} is the declared code_execution tool`, async () => {
        const block = { type: 'server_tool_use', id: 'srvtoolu_2', name: sub, input: { command: 'ls' } };
        expect(await answer(block, stream, ['code_execution'])).toBeUndefined();
        expect(await answer(block, stream)).toBeInstanceOf(OutputBlockedError);
        expect(await blockedTool()).toBe('code_execution');
      });
    }
});
