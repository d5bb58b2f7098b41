import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { messageItem, readResponses, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A Responses tool call whose arguments are not a string (an object: some servers send them
 * parsed; a number), in a stream: in the `function_call_arguments.delta` / `.done` events (an
 * MCP call's `mcp_call_arguments.*`), in the `output_item.done` item, or in the terminal
 * response only. Not the API's shape (a JSON string), but an application that stringifies them
 * runs the tool with what is in them. The complete response's function_call arguments were read
 * so since bcde577 (textSlot); the stream took strings only (the accumulator's pieces, done
 * events and terminal response; the redact rewrite), and a hosted call's input (an mcp_call's
 * `arguments`, responses-hosted-inputs.ts) was a string or nothing, plain and streamed: an
 * address or card number there passed detect, block and redact. Now each is read as its JSON
 * text, as the complete path reads a function call's.
 */

const EMAIL = 'jane.doe@example.com';
const CARD = 4111111111111111;
const MODEL = 'local-model';

type Where = 'argument events' | 'done item' | 'terminal response';

interface Shape {
  name: string;
  type: 'function_call' | 'mcp_call';
  value: unknown;
  pii: string;
}

const SHAPES: Shape[] = [
  {
    name: 'a function call, an object',
    type: 'function_call',
    value: { to: EMAIL, body: 'hi' },
    pii: 'email',
  },
  { name: 'a function call, a number', type: 'function_call', value: CARD, pii: 'credit_card' },
  { name: 'an MCP call, an object', type: 'mcp_call', value: { to: EMAIL }, pii: 'email' },
];

/** Set per test. */
let shape: Shape = SHAPES[0]!;
let where: Where = 'argument events';

function call(args: unknown, status = 'completed'): Record<string, unknown> {
  const c = { id: 'fc_1', name: 'send', arguments: args, status };
  return shape.type === 'function_call'
    ? { type: 'function_call', call_id: 'call_1', ...c }
    : { type: 'mcp_call', server_label: 'mail', ...c };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const v = shape.value;
  const message = messageItem('Sent.');
  if (req.body.stream !== true)
    return { kind: 'json', body: responseBody('resp_a', MODEL, 'completed', [call(v), message]) };
  const ev = responseEvents();
  const at = { item_id: 'fc_1', output_index: 0 };
  const prefix =
    shape.type === 'function_call' ? 'response.function_call_arguments' : 'response.mcp_call_arguments';
  const events: SseEvent[] = [
    ev('response.created', { response: responseBody('resp_a', MODEL, 'in_progress', []) }),
    ev('response.output_item.added', { output_index: 0, item: call('', 'in_progress') }),
  ];
  if (where === 'argument events')
    events.push(ev(`${prefix}.delta`, { ...at, delta: v }), ev(`${prefix}.done`, { ...at, arguments: v }));
  events.push(
    ev('response.output_item.done', { output_index: 0, item: call(where === 'done item' ? v : '') }),
    ev('response.output_item.added', { output_index: 1, item: message }),
    ev('response.output_item.done', { output_index: 1, item: message }),
    ev('response.completed', {
      response: responseBody('resp_a', MODEL, 'completed', [
        call(where === 'terminal response' ? v : ''),
        message,
      ]),
    }),
  );
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });

const run = (mode: PiiMode, stream: boolean, seen: unknown[] = []) =>
  readResponses(piiOpenAI(h, mode), MODEL, stream, seen);

/** Every value the reader got in a call's `arguments` or an arguments delta, in order. */
function argumentsOf(seen: unknown[]): unknown[] {
  const out: unknown[] = [];
  const items = (r: unknown) =>
    ((r as { output?: unknown[] } | undefined)?.output ?? []) as Array<Record<string, unknown>>;
  const ofItem = (i: Record<string, unknown> | undefined) => {
    if (i?.type === 'function_call' || i?.type === 'mcp_call') out.push(i.arguments);
  };
  for (const e of seen as Array<Record<string, unknown>>) {
    if (e.type === undefined) items(e).forEach(ofItem);
    else if (typeof e.type === 'string' && e.type.endsWith('_arguments.delta')) out.push(e.delta);
    else if (typeof e.type === 'string' && e.type.endsWith('_arguments.done')) out.push(e.arguments);
    else if (e.type === 'response.output_item.done') ofItem(e.item as Record<string, unknown>);
    else if (e.type === 'response.completed') items(e.response).forEach(ofItem);
  }
  return out.filter((a) => a !== '');
}

const CASES: Array<{ stream: boolean; where: Where }> = [
  { stream: false, where: 'terminal response' },
  { stream: true, where: 'argument events' },
  { stream: true, where: 'done item' },
  { stream: true, where: 'terminal response' },
];

describe.each(CASES)('tool-call arguments that are not a string (streamed: $stream, in the $where)', (c) => {
  describe.each(SHAPES)('$name', (s) => {
    const set = () => {
      shape = s;
      where = c.where;
    };

    it('detect reports what is in them, found in tool_arguments', async () => {
      set();
      await run('detect', c.stream);
      await eventually(() => piiEvents(h).length > 0);
      expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: [s.pii], found_in: ['tool_arguments'] });
    });

    it('block refuses the answer, none of them shown', async () => {
      set();
      const seen: unknown[] = [];
      await expect(run('block', c.stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
      expect(JSON.stringify(seen)).not.toMatch(/jane\.doe|4111/);
    });

    it('redact writes the rewrite as JSON text, or blocks when it is not JSON', async () => {
      set();
      const seen: unknown[] = [];
      if (typeof s.value === 'number') {
        // A placeholder in place of a number is no JSON: blocked, as for string arguments.
        await expect(run('redact', c.stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
        expect(JSON.stringify(seen)).not.toMatch(/4111/);
        return;
      }
      await run('redact', c.stream, seen);
      expect(JSON.stringify(seen)).not.toMatch(/jane\.doe/);
      const args = argumentsOf(seen);
      expect(args.length).toBeGreaterThan(0);
      const want = JSON.parse(JSON.stringify(s.value).replace(EMAIL, '[REDACTED:email]')) as unknown;
      for (const a of args) {
        expect(typeof a).toBe('string');
        expect(JSON.parse(a as string)).toEqual(want);
      }
    });
  });

  it('clean ones pass every mode, their values kept', async () => {
    const clean = { to: 'the team', n: 42 };
    shape = { name: 'clean', type: 'function_call', value: clean, pii: '' };
    where = c.where;
    for (const mode of ['detect', 'block', 'redact'] as const) {
      const args = argumentsOf(await run(mode, c.stream));
      expect(args.length).toBeGreaterThan(0);
      // Redact sends a call's arguments whole as a string (its pieces kept back): the same value.
      for (const a of args) expect(typeof a === 'string' ? JSON.parse(a) : a).toEqual(clean);
    }
    expect(piiEvents(h)).toEqual([]);
  });
});
