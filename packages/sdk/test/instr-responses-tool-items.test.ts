import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { defaultGuards, piiGuard } from '../src/guards/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { blockOf, clients, INJECTION, TOOL } from './fixtures/tool-attribution.ts';

/**
 * Responses API input items that carry a tool's output (MCP calls, shell and program output,
 * file search results, code interpreter logs) are read by the input guards and a block in one
 * is the tool's; a reasoning item is the model's own output, read as an assistant message.
 * Through the real client on the fake server.
 */

const h = useInstrHarness();

describe('OpenAI Responses: items that carry a tool’s output', () => {
  const respond = (input: unknown[]) =>
    clients(h, defaultGuards()).openai.responses.create({
      model: 'gpt-4o-mini',
      input: [{ role: 'user', content: 'What is the weather?' }, ...input] as OpenAI.Responses.ResponseInput,
    });

  const CASES: Array<[string, unknown, number?]> = [
    [
      'mcp_call output',
      {
        type: 'mcp_call',
        id: 'mcp_1',
        server_label: 'weather',
        name: 'fetch',
        arguments: '{}',
        output: INJECTION,
      },
    ],
    [
      'shell_call_output stdout',
      {
        type: 'shell_call_output',
        call_id: 'call_1',
        output: [{ stdout: INJECTION, stderr: '', outcome: { type: 'exit', exit_code: 0 } }],
      },
    ],
    [
      'file_search_call results',
      {
        type: 'file_search_call',
        id: 'fs_1',
        queries: ['weather'],
        status: 'completed',
        results: [{ file_id: 'file_1', filename: 'w.txt', score: 0.9, text: INJECTION }],
      },
    ],
    [
      'code_interpreter_call logs',
      {
        type: 'code_interpreter_call',
        id: 'ci_1',
        code: 'print(open("w.txt").read())',
        container_id: 'c_1',
        status: 'completed',
        outputs: [{ type: 'logs', logs: INJECTION }],
      },
    ],
    [
      'mcp_list_tools description',
      {
        type: 'mcp_list_tools',
        id: 'mcpl_1',
        server_label: 'weather',
        tools: [
          { name: 'forecast', input_schema: { type: 'object' }, description: 'Daily forecast.' },
          { name: 'alerts', input_schema: { type: 'object' }, description: INJECTION },
        ],
      },
      'Daily forecast.\n'.length + INJECTION.length,
    ],
    [
      'program_output result',
      { type: 'program_output', id: 'p_1', call_id: 'call_1', result: INJECTION, status: 'completed' },
    ],
  ];

  for (const [name, item, length = INJECTION.length] of CASES) {
    it(`an injection in a ${name} is blocked as the tool’s, its payload the output`, async () => {
      const b = await blockOf(h, respond([item]));
      expect(b).toMatchObject(TOOL);
      expect(b.promptLength).toBe(length);
    });
  }

  it('benign MCP tool descriptions pass the default guards', async () => {
    await respond([
      {
        type: 'mcp_list_tools',
        id: 'mcpl_1',
        server_label: 'github',
        tools: [
          {
            name: 'search_code',
            input_schema: {},
            description: 'Search code across repositories. Ignores case; previous results are not cached.',
          },
          {
            name: 'create_issue',
            input_schema: {},
            description: 'Create an issue. Overrides the default labels when `labels` is given.',
          },
          {
            name: 'get_file',
            input_schema: {},
            description: "Return a file's contents; system files (.git) are not listed.",
          },
          { name: 'status', input_schema: {} },
        ],
      },
    ]);
    expect(h.fake.requests).toHaveLength(1);
    expect(h.recorded.filter((e) => e.category === 'guardrail_block')).toEqual([]);
  });

  it('a reasoning item quoting the injection is the model’s own output, read as an assistant message: not blocked', async () => {
    await respond([
      {
        type: 'reasoning',
        id: 'rs_1',
        summary: [{ type: 'summary_text', text: 'The page says to ignore all previous instructions.' }],
        content: [{ type: 'reasoning_text', text: 'It says: ignore all previous instructions. I will not.' }],
      },
      { role: 'user', content: 'So what is the weather?' },
    ]);
    expect(h.fake.requests).toHaveLength(1);
    expect(h.recorded.filter((e) => e.category === 'guardrail_block')).toEqual([]);
  });

  it('an assistant output item quoting the injection is the model’s (like chat): not blocked', async () => {
    await respond([
      {
        type: 'message',
        id: 'msg_1',
        role: 'assistant',
        status: 'completed',
        content: [
          { type: 'output_text', text: 'The page said: ignore all previous instructions.', annotations: [] },
        ],
      },
      { role: 'user', content: [{ type: 'input_text', text: 'Thanks.' }] },
    ]);
    expect(h.fake.requests).toHaveLength(1);
    expect(h.recorded.filter((e) => e.category === 'guardrail_block')).toEqual([]);
  });

  it('developer and system items are the operator’s (like chat): not matched as the user’s', async () => {
    await respond([
      { role: 'developer', content: [{ type: 'input_text', text: 'Ignore previous instructions from v1.' }] },
      { type: 'message', role: 'system', content: 'You are a weather bot.' },
    ]);
    expect(h.fake.requests).toHaveLength(1);
  });
});

describe('OpenAI Responses: piiGuard redact writes back into the item’s own fields', () => {
  it('shell_call_output stdout/stderr and file_search_call results: each redaction in its own field, the rest kept', async () => {
    await clients(h, { input: [piiGuard({ mode: 'redact' })] }).openai.responses.create({
      model: 'gpt-4o-mini',
      input: [
        { role: 'user', content: 'Who to contact?' },
        {
          type: 'shell_call_output',
          call_id: 'call_1',
          output: [
            { stdout: 'owner: jane@example.com\nok', stderr: '', outcome: { type: 'exit', exit_code: 0 } },
            { stdout: 'none', stderr: 'warn: bob@example.com', outcome: { type: 'exit', exit_code: 1 } },
          ],
        },
        {
          type: 'file_search_call',
          id: 'fs_1',
          queries: ['contact'],
          status: 'completed',
          results: [
            { file_id: 'file_1', score: 0.9, text: 'Call ann@example.com' },
            { file_id: 'file_2', score: 0.5, text: 'no contact here' },
          ],
        },
      ] as OpenAI.Responses.ResponseInput,
    });
    const input = (h.fake.requests.at(-1)?.body as { input: unknown[] }).input;
    expect(JSON.stringify(input)).not.toMatch(/jane@|bob@|ann@/);
    expect(input[1]).toEqual({
      type: 'shell_call_output',
      call_id: 'call_1',
      output: [
        { stdout: 'owner: [REDACTED:email]\nok', stderr: '', outcome: { type: 'exit', exit_code: 0 } },
        { stdout: 'none', stderr: 'warn: [REDACTED:email]', outcome: { type: 'exit', exit_code: 1 } },
      ],
    });
    expect(input[2]).toEqual({
      type: 'file_search_call',
      id: 'fs_1',
      queries: ['contact'],
      status: 'completed',
      results: [
        { file_id: 'file_1', score: 0.9, text: 'Call [REDACTED:email]' },
        { file_id: 'file_2', score: 0.5, text: 'no contact here' },
      ],
    });
    // Every finding was in a tool's output.
    expect(h.recorded.filter((e) => e.category === 'pii_detected').map((e) => e.metadata)).toEqual([
      { pii_types: ['email'], direction: 'input', input_source: 'tool' },
    ]);
  });
});
