import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * Clean tool-call arguments through the real clients' stream helpers, several calls in one
 * answer (parallel tool calls), in every piiGuard mode: the application gets each call's
 * arguments exactly as the model sent them, in the helpers' per-call events too.
 */

let CALLS = [
  { name: 'get_weather', args: JSON.stringify({ city: 'Paris', unit: 'celsius', days: 3 }) },
  {
    name: 'search',
    args: JSON.stringify({ q: 'refund policy', limit: 10, id: '3f2a9c1e-7b4d-4e2a-9f1c-2b8d6e4a1c3f' }),
  },
];

function pieces(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += 5) out.push(s.slice(i, i + 5));
  return out;
}

function chat(): FakeResponse {
  const chunk = (delta: unknown, finish: string | null = null): SseEvent => ({
    data: {
      id: 'chatcmpl-h',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    },
  });
  return {
    kind: 'sse',
    events: [
      chunk({ role: 'assistant', content: null }),
      ...CALLS.flatMap((c, index) => [
        chunk({
          tool_calls: [
            { index, id: `call_${index}`, type: 'function', function: { name: c.name, arguments: '' } },
          ],
        }),
        ...pieces(c.args).map((p) => chunk({ tool_calls: [{ index, function: { arguments: p } }] })),
      ]),
      chunk({}, 'tool_calls'),
      { data: '[DONE]' },
    ],
  };
}

function responses(): FakeResponse {
  const fc = (i: number, a: string, status = 'completed') => ({
    type: 'function_call',
    id: `fc_${i}`,
    call_id: `call_${i}`,
    name: CALLS[i]!.name,
    arguments: a,
    status,
  });
  const response = (status: string, output: unknown[]) => ({
    id: 'resp_h',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output,
    usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 },
  });
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: response('in_progress', []) }),
      ...CALLS.flatMap((c, i) => [
        ev('response.output_item.added', { output_index: i, item: fc(i, '', 'in_progress') }),
        ...pieces(c.args).map((p) =>
          ev('response.function_call_arguments.delta', { item_id: `fc_${i}`, output_index: i, delta: p }),
        ),
        ev('response.function_call_arguments.done', {
          item_id: `fc_${i}`,
          output_index: i,
          arguments: c.args,
        }),
        ev('response.output_item.done', { output_index: i, item: fc(i, c.args) }),
      ]),
      ev('response.completed', {
        response: response(
          'completed',
          CALLS.map((c, i) => fc(i, c.args)),
        ),
      }),
    ],
  };
}

function anthropicReply(): FakeResponse {
  const message = (content: unknown[], stop: string | null) => ({
    id: 'msg_h',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5',
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 7 },
  });
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, ...data },
  });
  return {
    kind: 'sse',
    events: [
      ev('message_start', { message: message([], null) }),
      ...CALLS.flatMap((c, index) => [
        ev('content_block_start', {
          index,
          content_block: { type: 'tool_use', id: `toolu_${index}`, name: c.name, input: {} },
        }),
        ...pieces(c.args).map((p) =>
          ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: p } }),
        ),
        ev('content_block_stop', { index }),
      ]),
      ev('message_delta', {
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 7 },
      }),
      ev('message_stop', {}),
    ],
  };
}

/** After the tools ran (runTools sends their results back): a text answer. */
function chatAfterTools(): FakeResponse {
  const chunk = (delta: unknown, finish: string | null = null): SseEvent => ({
    data: {
      id: 'chatcmpl-h2',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    },
  });
  return {
    kind: 'sse',
    events: [chunk({ role: 'assistant', content: 'Done.' }), chunk({}, 'stop'), { data: '[DONE]' }],
  };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path.endsWith('/chat/completions'))
    return (req.body.messages as Array<{ role: string }>).some((m) => m.role === 'tool')
      ? chatAfterTools()
      : chat();
  if (req.path.endsWith('/v1/responses')) return responses();
  if (req.path === '/v1/messages') return anthropicReply();
  return undefined;
}

const h = useInstrHarness({ script });
const MODES = ['detect', 'block', 'redact'] as const;
type Mode = (typeof MODES)[number];

function opts(mode: Mode) {
  return { ...h.options(), guards: { output: [piiGuard({ mode, directions: ['output'] })] } };
}
const openai = (mode: Mode) =>
  instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), opts(mode));

const ask = [{ role: 'user' as const, content: 'weather and refunds' }];
/** Strict tools: openai's stream helper parses their arguments (parsed_arguments). */
const tools = CALLS.map((c) => ({
  type: 'function' as const,
  function: {
    name: c.name,
    strict: true,
    parameters: { type: 'object', properties: {}, additionalProperties: true },
  },
}));
const want = CALLS.map((c) => c.args);

describe("clean tool-call arguments through the clients' stream helpers", () => {
  for (const mode of MODES) {
    it(`${mode}: chat.completions.stream() events and finalChatCompletion() carry each call's arguments exactly`, async () => {
      const s = openai(mode).chat.completions.stream({ model: 'gpt-4o-mini', messages: ask, tools });
      const done: Array<[number, string, unknown]> = [];
      s.on('tool_calls.function.arguments.done', (e) =>
        done.push([e.index, e.arguments, e.parsed_arguments]),
      );
      const final = await s.finalChatCompletion();
      const got = final.choices[0]?.message.tool_calls?.map((t) =>
        t.type === 'function' ? t.function.arguments : '',
      );
      expect(got).toEqual(want);
      const parsed = final.choices[0]?.message.tool_calls?.map((t) =>
        t.type === 'function' ? t.function.parsed_arguments : undefined,
      );
      expect(parsed).toEqual(want.map((a) => JSON.parse(a) as unknown));
      expect(done).toEqual(want.map((a, i) => [i, a, JSON.parse(a) as unknown]));
    });

    it(`${mode}: chat.completions.runTools() (streamed) runs each tool with its arguments exactly`, async () => {
      const ran: Array<[string, unknown]> = [];
      const runner = openai(mode).chat.completions.runTools({
        model: 'gpt-4o-mini',
        messages: ask,
        stream: true,
        tools: CALLS.map((c) => ({
          type: 'function' as const,
          function: {
            name: c.name,
            description: c.name,
            parameters: { type: 'object', properties: {} },
            parse: (input: string) => JSON.parse(input) as Record<string, unknown>,
            function: (args: Record<string, unknown>) => {
              ran.push([c.name, args]);
              return 'ok';
            },
          },
        })),
      });
      expect(await runner.finalContent()).toBe('Done.');
      expect(ran).toEqual(CALLS.map((c) => [c.name, JSON.parse(c.args) as unknown]));
    });

    it(`${mode}: chat create({stream:true}) deltas accumulated by index give each call's arguments`, async () => {
      const s = await openai(mode).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: ask,
        tools,
        stream: true,
      });
      const acc: string[] = [];
      for await (const chunk of s)
        for (const tc of chunk.choices[0]?.delta.tool_calls ?? [])
          acc[tc.index] = (acc[tc.index] ?? '') + (tc.function?.arguments ?? '');
      expect(acc).toEqual(want);
    });

    it(`${mode}: responses.stream() events and finalResponse() carry each call's arguments exactly`, async () => {
      const s = openai(mode).responses.stream({ model: 'gpt-4o-mini', input: 'x' });
      const done: string[] = [];
      s.on('response.function_call_arguments.done', (e) => done.push(e.arguments));
      const final = await s.finalResponse();
      expect(final.output.map((o) => (o.type === 'function_call' ? o.arguments : ''))).toEqual(want);
      expect(done).toEqual(want);
    });

    it(`${mode}: responses create({stream:true}) argument deltas accumulated per item give the arguments`, async () => {
      const s = await openai(mode).responses.create({ model: 'gpt-4o-mini', input: 'x', stream: true });
      const acc = new Map<string, string>();
      const done: string[] = [];
      for await (const e of s) {
        if (e.type === 'response.function_call_arguments.delta')
          acc.set(e.item_id, (acc.get(e.item_id) ?? '') + e.delta);
        if (e.type === 'response.function_call_arguments.done') done.push(e.arguments);
      }
      // A redact stream sends the pieces empty and each call's arguments whole in one delta
      // just before its done event, so an app joining the deltas gets them (before: '').
      expect([...acc.values()]).toEqual(want);
      expect(done).toEqual(want);
    });

    it(`${mode}: anthropic messages.stream() finalMessage() carries each tool_use input`, async () => {
      const c = instrumentClient(
        new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }),
        opts(mode),
      );
      const s = c.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 50, messages: ask });
      const m = await s.finalMessage();
      expect(m.content.map((b) => (b.type === 'tool_use' ? b.input : undefined))).toEqual(
        want.map((a) => JSON.parse(a) as unknown),
      );
    });
  }

  it('redact: a call ended by the next one goes out redacted there, its done event parsing the redacted JSON', async () => {
    const clean = CALLS;
    CALLS = [
      { name: 'get_weather', args: JSON.stringify({ city: 'Paris', notify: 'jane.doe@example.com' }) },
      clean[1]!,
    ];
    try {
      const s = openai('redact').chat.completions.stream({ model: 'gpt-4o-mini', messages: ask, tools });
      const done: unknown[] = [];
      s.on('tool_calls.function.arguments.done', (e) => done.push(e.parsed_arguments));
      const final = await s.finalChatCompletion();
      const redacted = { city: 'Paris', notify: '[REDACTED:email]' };
      expect(done).toEqual([redacted, JSON.parse(clean[1]!.args)]);
      const got = final.choices[0]?.message.tool_calls?.map((t) =>
        t.type === 'function' ? t.function.arguments : '',
      );
      expect(got?.map((a) => JSON.parse(a) as unknown)).toEqual([redacted, JSON.parse(clean[1]!.args)]);
    } finally {
      CALLS = clean;
    }
  });
});
