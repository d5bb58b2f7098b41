import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, piiOpenAI, PII_MODES, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { readResponses, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A Responses reasoning item's summary text and `reasoning_text` content, and a `refusal` part,
 * whose text is not a string (an array, an object: not the API's shape, but a server may send
 * it, and an application that stringifies it shows what is in it), in a complete response and
 * in a stream (its delta, done event, part, item and terminal response). Before, these were read
 * only when they were strings: an address in them passed detect, block and redact. Now they are
 * read as their JSON text (valueText), as output_text parts and tool-call arguments are.
 * Through the real openai client against the fake server.
 */

const EMAIL = 'jane.doe@example.com';
const MODEL = 'local-model';

type Place = 'summary' | 'content' | 'refusal';

/** Where the text goes and its value: set per test. */
let place: Place = 'summary';
let value: unknown = [`write to ${EMAIL}`];

const at = { output_index: 0 };

/** The one output item: a reasoning item holding the value, or a message refusing with it. */
function item(v: unknown, status = 'completed'): Record<string, unknown> {
  if (place === 'refusal')
    return {
      type: 'message',
      id: 'msg_1',
      role: 'assistant',
      status,
      content: [{ type: 'refusal', refusal: v }],
    };
  const texts =
    v === undefined ? [] : [{ type: place === 'summary' ? 'summary_text' : 'reasoning_text', text: v }];
  return place === 'summary'
    ? { type: 'reasoning', id: 'rs_1', summary: texts }
    : { type: 'reasoning', id: 'rs_1', summary: [], content: texts };
}

/** Each place's stream events, its part's type and the field holding its text. */
const EVENTS = {
  summary: {
    at: { item_id: 'rs_1', summary_index: 0 },
    types: [
      'reasoning_summary_part.added',
      'reasoning_summary_text.delta',
      'reasoning_summary_text.done',
      'reasoning_summary_part.done',
    ],
    part: 'summary_text',
    field: 'text',
  },
  content: {
    at: { item_id: 'rs_1', content_index: 0 },
    types: ['content_part.added', 'reasoning_text.delta', 'reasoning_text.done', 'content_part.done'],
    part: 'reasoning_text',
    field: 'text',
  },
  refusal: {
    at: { item_id: 'msg_1', content_index: 0 },
    types: ['content_part.added', 'refusal.delta', 'refusal.done', 'content_part.done'],
    part: 'refusal',
    field: 'refusal',
  },
} as const;

/** The events streaming the value, between the item's added and done events. */
function texts(ev: ReturnType<typeof responseEvents>): SseEvent[] {
  const { at: where, types, part, field: f } = EVENTS[place];
  const c = { ...at, ...where };
  const withText = (t: unknown) => ({ type: part, [f]: t });
  const [added, delta, done, partDone] = types.map((t) => `response.${t}`) as [
    string,
    string,
    string,
    string,
  ];
  return [
    ev(added, { ...c, part: withText('') }),
    ev(delta, { ...c, delta: value }),
    ev(done, { ...c, [f]: value }),
    ev(partDone, { ...c, part: withText(value) }),
  ];
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const body = responseBody('resp_rr', MODEL, 'completed', [item(value)]);
  if (req.body.stream !== true) return { kind: 'json', body };
  const ev = responseEvents();
  const empty = place === 'refusal' ? { ...item(undefined, 'in_progress'), content: [] } : item(undefined);
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: { ...body, status: 'in_progress', output: [] } }),
      ev('response.output_item.added', { ...at, item: empty }),
      ...texts(ev),
      ev('response.output_item.done', { ...at, item: item(value) }),
      ev('response.completed', { response: body }),
    ],
  };
}

const h = useInstrHarness({ script });

type Ev = Record<string, unknown> & { type?: string };

/** The field holding the value, as the place's done event, part, item and response carry it. */
const field = () => EVENTS[place].field;

/** Every value of the place a reader got whole: the done event's, the done part's, the item's, the response's. */
function wholes(seen: unknown[]): unknown[] {
  const out: unknown[] = [];
  const ofItem = (o: unknown) => {
    const i = o as Record<string, Array<Record<string, unknown>> | undefined>;
    const list = place === 'summary' ? i.summary : i.content;
    for (const t of list ?? []) out.push(t[field()]);
  };
  const ofResponse = (r: unknown) => (r as { output: unknown[] }).output.forEach(ofItem);
  for (const e of seen as Ev[]) {
    if (e.type === undefined) ofResponse(e);
    else if (/reasoning_summary_text\.done|reasoning_text\.done|refusal\.done/.test(e.type))
      out.push(e[field()]);
    else if (/_part\.done$/.test(e.type)) out.push((e.part as Record<string, unknown>)[field()]);
    else if (e.type === 'response.output_item.done') ofItem(e.item);
    else if (e.type === 'response.completed') ofResponse(e.response);
  }
  return out;
}

/** The streamed deltas of the place a reader got, joined as shown. */
function deltas(seen: unknown[]): string {
  return (seen as Ev[])
    .filter((e) => /reasoning_summary_text\.delta|reasoning_text\.delta|refusal\.delta/.test(e.type ?? ''))
    .map((e) => (typeof e.delta === 'string' ? e.delta : JSON.stringify(e.delta)))
    .join('');
}

const run = (mode: PiiMode, stream: boolean, seen: unknown[] = []) =>
  readResponses(piiOpenAI(h, mode), MODEL, stream, seen);

describe.each([false, true])('a reasoning text or refusal that is not a string (streamed: %s)', (stream) => {
  describe.each<{ p: Place; foundIn: string[] | undefined }>([
    { p: 'summary', foundIn: ['reasoning'] },
    { p: 'content', foundIn: ['reasoning'] },
    // A refusal is a text beside the answer: found in the text (found_in absent, docs/formats.md).
    { p: 'refusal', foundIn: undefined },
  ])('in the $p', ({ p, foundIn }) => {
    it('detect reports what is in it', async () => {
      place = p;
      value = [`write to ${EMAIL}`];
      await run('detect', stream);
      await eventually(() => piiEvents(h).length > 0);
      const meta = piiEvents(h)[0]!.metadata as Record<string, unknown>;
      expect(meta).toMatchObject({ pii_types: ['email'], direction: 'output' });
      expect(meta.found_in).toEqual(foundIn);
    });

    it('block refuses the answer, none of it shown', async () => {
      place = p;
      value = { to: EMAIL };
      const seen: unknown[] = [];
      await expect(run('block', stream, seen)).rejects.toBeInstanceOf(OutputBlockedError);
      expect(JSON.stringify(seen)).not.toMatch(/jane\.doe/);
    });

    it('redact writes its rewrite, a string, everywhere it is repeated', async () => {
      place = p;
      value = [`write to ${EMAIL}`];
      const seen = await run('redact', stream);
      expect(JSON.stringify(seen)).not.toMatch(/jane\.doe/);
      const all = wholes(seen);
      expect(all.length).toBe(stream ? 4 : 1);
      for (const t of all) expect(t).toBe('["write to [REDACTED:email]"]');
      // A refusal's pieces are kept back and go out whole in its done event; a reasoning text's
      // go out whole, rewritten, in one delta before it.
      if (stream) expect(deltas(seen)).toBe(p === 'refusal' ? '' : '["write to [REDACTED:email]"]');
    });

    it('a clean one passes every mode, its value as sent', async () => {
      place = p;
      value = { note: 'nothing here', n: 42 };
      for (const mode of PII_MODES) {
        const all = wholes(await run(mode, stream));
        expect(all.length).toBe(stream ? 4 : 1);
        for (const t of all) expect(t).toEqual(value);
      }
      expect(piiEvents(h)).toEqual([]);
    });
  });
});
