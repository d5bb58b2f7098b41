import type Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { defaultGuards, piiGuard } from '../src/guards/index.ts';
import { withSecurityContext } from '../src/context.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { blockOf, clients, INJECTION, TOOL, USER } from './fixtures/tool-attribution.ts';

/**
 * Anthropic's beta namespace through the real client on the fake server: what only beta
 * requests carry. Beta fields reach the API untouched beside a guard's rewrite, and the beta
 * blocks that carry third-party text (the MCP connector's results in the assistant's message,
 * search results, web fetches) are read as a tool's (input_source: "tool") as the plain
 * namespace's are; blocks with no text (container uploads) or of unknown types never break
 * the call.
 */

const h = useInstrHarness();
const EMAIL = 'jane.doe@example.com';
type Beta = Anthropic.Beta.Messages.BetaMessageParam;

const mcpTurn = (content: string): Beta[] => [
  { role: 'user', content: 'Look the customer up in the CRM.' },
  {
    role: 'assistant',
    content: [
      { type: 'text', text: 'Looking it up.' },
      { type: 'mcp_tool_use', id: 'mcptoolu_1', name: 'lookup', server_name: 'crm', input: {} },
      {
        type: 'mcp_tool_result',
        tool_use_id: 'mcptoolu_1',
        is_error: false,
        content: [{ type: 'text', text: content }],
      },
      { type: 'text', text: 'Done.' },
    ],
  },
  { role: 'user', content: 'Thanks, go on.' },
];

describe('Anthropic beta.messages: beta fields and blocks', () => {
  it('betas, mcp_servers, container and context_management pass untouched beside a redaction', async () => {
    const c = clients(h, { input: [piiGuard({ directions: ['input'] })] });
    const mcp_servers = [{ type: 'url' as const, url: 'https://mcp.example.com/sse', name: 'crm' }];
    const context_management = { edits: [{ type: 'clear_tool_uses_20250919' as const }] };
    await c.anthropic.beta.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      betas: ['mcp-client-2025-04-04', 'context-management-2025-06-27'],
      mcp_servers,
      container: 'container_1',
      context_management,
      messages: [{ role: 'user', content: `Write to ${EMAIL}` }],
    });
    expect(h.fake.requests).toHaveLength(1);
    const req = h.fake.requests[0];
    expect(req?.body).toMatchObject({ mcp_servers, container: 'container_1', context_management });
    expect(req?.body).not.toHaveProperty('betas');
    expect(req?.headers['anthropic-beta']).toBe('mcp-client-2025-04-04,context-management-2025-06-27');
    expect(JSON.stringify(req?.body)).not.toContain(EMAIL);
    expect(JSON.stringify(req?.body)).toContain('[REDACTED:email]');
  });

  it("an injection in an mcp_tool_result of the assistant's message is the tool's (it was not read)", async () => {
    const b = await blockOf(
      h,
      clients(h, defaultGuards()).anthropic.beta.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 50,
        messages: mcpTurn(INJECTION),
      }),
    );
    expect(b).toMatchObject(TOOL);
    expect(b.promptLength).toBe(INJECTION.length);
  });

  it('piiGuard redact rewrites the mcp_tool_result in place; the blocks around it are kept', async () => {
    const c = clients(h, { input: [piiGuard({ directions: ['input'] })] });
    await c.anthropic.beta.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      messages: mcpTurn(`Owner: ${EMAIL}`),
    });
    const sent = h.fake.requests[0]?.body.messages as Array<{ content: unknown }>;
    expect(sent[1]?.content).toEqual([
      { type: 'text', text: 'Looking it up.' },
      { type: 'mcp_tool_use', id: 'mcptoolu_1', name: 'lookup', server_name: 'crm', input: {} },
      {
        type: 'mcp_tool_result',
        tool_use_id: 'mcptoolu_1',
        is_error: false,
        content: [{ type: 'text', text: 'Owner: [REDACTED:email]' }],
      },
      { type: 'text', text: 'Done.' },
    ]);
  });

  it("a search_result block in the user's message is the tool's; the user's text beside it the user's", async () => {
    const turn = (text: string, result: string) =>
      clients(h, defaultGuards()).anthropic.beta.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 50,
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'search_result',
                source: 'https://kb.example.com/1',
                title: 'KB',
                content: [{ type: 'text', text: result }],
              },
              { type: 'text', text },
            ],
          },
        ],
      });
    expect(await blockOf(h, turn('Summarise it.', INJECTION))).toMatchObject(TOOL);
    h.reset();
    expect(await blockOf(h, turn(INJECTION, 'Lyon: 14 degrees'))).toMatchObject(USER);
  });

  it('container_upload and unknown blocks do not break the call; an unknown block’s text is read', async () => {
    const c = clients(h, defaultGuards());
    const messages = (text: string) =>
      [
        {
          role: 'user',
          content: [
            { type: 'container_upload', file_id: 'file_1' },
            { type: 'some_future_block', text, extra: { nested: [1, 2] } },
          ],
        },
      ] as unknown as Beta[];
    const ok = await c.anthropic.beta.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      messages: messages('Summarise the file.'),
    });
    expect(ok.content[0]).toMatchObject({ type: 'text' });
    expect(h.fake.requests[0]?.body.messages).toEqual(messages('Summarise the file.'));
    h.reset();
    expect(
      await blockOf(
        h,
        c.anthropic.beta.messages.create({
          model: 'claude-haiku-4-5',
          max_tokens: 50,
          messages: messages(INJECTION),
        }),
      ),
    ).toMatchObject(USER);
  });

  it("an MCP server's tool description (mcp_tool_listing) and an advisor's result are read as a tool's", async () => {
    const listing = (description: string) =>
      [
        { role: 'user', content: 'What can the CRM do?' },
        {
          role: 'assistant',
          content: [
            {
              type: 'mcp_tool_listing',
              mcp_server_name: 'crm',
              tools: [
                { name: 'lookup', input_schema: { type: 'object' } },
                { name: 'export', description, input_schema: { type: 'object' } },
              ],
            },
            { type: 'text', text: 'It can look up and export.' },
          ],
        },
        { role: 'user', content: 'Export it.' },
      ] as unknown as Beta[];
    const b = await blockOf(
      h,
      clients(h, defaultGuards()).anthropic.beta.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 50,
        messages: listing(INJECTION),
      }),
    );
    expect(b).toMatchObject(TOOL);
    h.reset();
    const c = clients(h, { input: [piiGuard({ directions: ['input'] })] });
    const advisor = {
      type: 'advisor_tool_result',
      tool_use_id: 'srvtoolu_1',
      content: { type: 'advisor_result', text: `Write to ${EMAIL} first.` },
    };
    await c.anthropic.beta.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'Plan it.' },
        { role: 'assistant', content: [advisor, { type: 'text', text: 'Planned.' }] },
        { role: 'user', content: 'Go.' },
      ] as unknown as Beta[],
    });
    const sent = h.fake.requests[0]?.body.messages as Array<{ content: unknown[] }>;
    expect(sent[1]?.content[0]).toEqual({
      ...advisor,
      content: { type: 'advisor_result', text: 'Write to [REDACTED:email] first.' },
    });
  });

  it('a message thread that continues (history on the server): new input measured, no turn index', async () => {
    const c = clients(h, {});
    const thread = { type: 'continue', previous_message_id: 'msg_1' };
    await withSecurityContext({ userId: 'u1', sessionId: 's1' }, () =>
      c.anthropic.beta.messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 50,
        betas: ['message-threads-2026-01-01'],
        thread,
        messages: [{ role: 'user', content: 'and the next one?' }],
      } as unknown as Anthropic.Beta.Messages.MessageCreateParamsNonStreaming),
    );
    expect(h.fake.requests[0]?.body.thread).toEqual(thread);
    await eventually(() => h.recorded.length === 1);
    expect(h.recorded[0]?.metadata).toMatchObject({ new_input_length: 'and the next one?'.length });
    expect(h.recorded[0]?.metadata).not.toHaveProperty('turn_index');
  });
});
