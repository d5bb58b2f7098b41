import * as fc from 'fast-check';
import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import type { GuardMessage } from '../src/instrumentation/index.ts';
import { chatInput, recordingContext } from './guard-context.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import { clients } from './fixtures/tool-attribution.ts';

/**
 * Tools OpenAI runs itself (file search, code interpreter, MCP) return their output inside the
 * response; the client sends those items back in the next request's input, after the message
 * the model answered with. They were never in an input before, so the turn they come back is
 * the one their text is new to the guards: piiGuard detect reports personal data in them then,
 * once (as the tool's), not on every later turn. Through the real openai client on the fake server.
 */

const h = useInstrHarness();
const EMAIL = 'carol.owner@example.net';

const HOSTED: Array<[string, unknown]> = [
  [
    'file_search_call results',
    {
      type: 'file_search_call',
      id: 'fs_1',
      queries: ['owner'],
      status: 'completed',
      results: [{ file_id: 'file_1', filename: 'o.txt', score: 0.9, text: `Owner: ${EMAIL}` }],
    },
  ],
  [
    'code_interpreter_call logs',
    {
      type: 'code_interpreter_call',
      id: 'ci_1',
      code: 'print(owner)',
      container_id: 'c_1',
      status: 'completed',
      outputs: [{ type: 'logs', logs: `Owner: ${EMAIL}` }],
    },
  ],
  [
    'mcp_call output',
    {
      type: 'mcp_call',
      id: 'mcp_1',
      server_label: 'crm',
      name: 'owner',
      arguments: '{}',
      output: `Owner: ${EMAIL}`,
    },
  ],
  [
    'mcp_list_tools description',
    {
      type: 'mcp_list_tools',
      id: 'mcpl_1',
      server_label: 'crm',
      tools: [{ name: 'owner', input_schema: {}, description: `Support contact: ${EMAIL}` }],
    },
  ],
];

describe('piiGuard detect and redact: personal data in the output of tools OpenAI runs', () => {
  for (const [name, item] of HOSTED)
    for (const mode of ['detect', 'redact'] as const) {
      it(`${mode}: a ${name} is reported the turn it comes back, as the tool's, and not again`, async () => {
        const openai = clients(h, { input: [piiGuard({ mode })] }).openai;
        // Turn 1's response held the tool's item and the model's answer; the client resends them.
        const turn2 = [
          { role: 'user', content: 'Who owns the account?' },
          item,
          {
            type: 'message',
            id: 'msg_1',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'Carol.' }],
          },
          { role: 'user', content: 'Thanks. And the plan?' },
        ];
        const turn3 = [
          ...turn2,
          {
            type: 'message',
            id: 'msg_2',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'Pro.' }],
          },
          { role: 'user', content: 'Ok.' },
        ];
        const found: unknown[][] = [];
        for (const input of [turn2, turn3]) {
          const before = h.recorded.length;
          await openai.responses.create({
            model: 'gpt-4o-mini',
            input: input as OpenAI.Responses.ResponseInput,
          });
          found.push(
            h.recorded
              .slice(before)
              .filter((e) => e.category === 'pii_detected')
              .map((e) => e.metadata),
          );
        }
        expect(found).toEqual([[{ pii_types: ['email'], direction: 'input', input_source: 'tool' }], []]);
        // redact: the address never reaches the provider, on either turn.
        if (mode === 'redact') expect(JSON.stringify(h.fake.requests)).not.toContain(EMAIL);
      });
    }

  it("a chat tool result is still reported once, on the turn it arrived (not again after the model's answer)", async () => {
    const openai = clients(h, { input: [piiGuard({ mode: 'detect' })] }).openai;
    const call = { id: 'call_1', type: 'function' as const, function: { name: 'owner', arguments: '{}' } };
    const turn2: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Who owns the account?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'call_1', content: `Owner: ${EMAIL}` },
    ];
    const turn3: OpenAI.Chat.ChatCompletionMessageParam[] = [
      ...turn2,
      { role: 'assistant', content: 'Carol.' },
      { role: 'user', content: 'Thanks.' },
    ];
    const counts: number[] = [];
    for (const messages of [turn2, turn3]) {
      const before = h.recorded.length;
      await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
      counts.push(h.recorded.slice(before).filter((e) => e.category === 'pii_detected').length);
    }
    expect(counts).toEqual([1, 0]);
  });
});

describe('piiGuard detect over a Responses conversation with hosted tools', () => {
  it('property: each turn whose response held hosted tool output with personal data is reported once, on the next request', () => {
    const hosted = fc.constantFrom('file_search_call', 'code_interpreter_call', 'mcp_call', 'mcp_list_tools');
    fc.assert(
      fc.property(
        // Per turn: the hosted items the response held before its answer (with or without an address).
        fc.array(fc.array(fc.tuple(hosted, fc.boolean()), { maxLength: 3 }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom('detect', 'redact') as fc.Arbitrary<'detect' | 'redact'>,
        (turns, mode) => {
          const guard = piiGuard({ mode });
          const history: GuardMessage[] = [];
          const counts: number[] = [];
          const expected: number[] = [0];
          turns.forEach((items, t) => {
            history.push({ role: 'user', content: `question ${t}` });
            const { ctx, events } = recordingContext(chatInput({ messages: [...history] }));
            void guard.check(ctx.input, ctx); // synchronous: the events are recorded on return
            counts.push(events.length);
            // The response: its hosted items, then the model's answer; the client resends them.
            for (const [role, pii] of items)
              history.push({ role, content: pii ? `owner: person${t}@example.com` : 'no data' });
            history.push({ role: 'assistant', content: `answer ${t}` });
            expected.push(items.some(([, pii]) => pii) ? 1 : 0);
          });
          expect(counts).toEqual(expected.slice(0, turns.length));
        },
      ),
      { numRuns: 500 },
    );
  });
});
