import { describe, expect, it } from 'vitest';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { eventually, useInstrHarness } from './fixtures/instr-harness.ts';
import { piiEvents, piiOpenAI, type PiiMode } from './fixtures/pii-guarded-client.ts';
import { readResponses, responseBody, responseEvents } from './fixtures/responses-reply.ts';
import type { FakeRequest, FakeResponse } from '../../../examples/fake-llm/server.ts';

/**
 * A Responses `output_text` part whose `text` is not a string (an array, an object, a number),
 * in a complete response and in a stream (its delta and every event that repeats the part). Not
 * the API's shape, but a server may send it, and an application that stringifies the text shows
 * what is in it. Before, such a part was neither read nor touched: its address or card number
 * passed detect, block and redact. Now it is read as its JSON text, as chat content parts are
 * (8f5d92a). Through the real openai client against the fake server.
 */

const EMAIL = 'jane.doe@example.com';
const CARD = 4111111111111111;
const MODEL = 'local-model';

const SHAPES = [
  { name: 'an array', value: [`write to ${EMAIL}`] as unknown, pii: 'email' },
  { name: 'an object', value: { value: EMAIL } as unknown, pii: 'email' },
  { name: 'a number', value: CARD as unknown, pii: 'credit_card' },
];

/** The part's text: set per test. */
let text: unknown = '';

function item(t: unknown): Record<string, unknown> {
  const content = [{ type: 'output_text', text: t, annotations: [] }];
  return { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const body = responseBody('resp_ns', MODEL, 'completed', [item(text)]);
  if (req.body.stream !== true) return { kind: 'json', body };
  const ev = responseEvents();
  const at = { item_id: 'msg_1', output_index: 0, content_index: 0 };
  const part = (t: unknown) => ({ type: 'output_text', text: t, annotations: [] });
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: { ...body, status: 'in_progress', output: [] } }),
      ev('response.output_item.added', {
        output_index: 0,
        item: { ...item(''), content: [], status: 'in_progress' },
      }),
      ev('response.content_part.added', { ...at, part: part('') }),
      ev('response.output_text.delta', { ...at, delta: text }),
      ev('response.output_text.done', { ...at, text }),
      ev('response.content_part.done', { ...at, part: part(text) }),
      ev('response.output_item.done', { output_index: 0, item: item(text) }),
      ev('response.completed', { response: body }),
    ],
  };
}

const h = useInstrHarness({ script });

type Ev = {
  type?: string;
  delta?: unknown;
  text?: unknown;
  part?: { text?: unknown };
  item?: Rsp;
  response?: Rsp;
};
type Rsp = { content?: Array<{ text?: unknown }>; output?: Array<{ content?: Array<{ text?: unknown }> }> };

/** Every text of the part a reader got: the response's, or each event's delta and repeats. */
function textsOf(seen: unknown[]): unknown[] {
  const out: unknown[] = [];
  const ofResponse = (r: Rsp | undefined) =>
    r?.output?.forEach((o) => o.content?.forEach((c) => out.push(c.text)));
  for (const e of seen as Ev[]) {
    if (e.type === undefined) ofResponse(e as Rsp);
    else if (e.type === 'response.output_text.delta') out.push(e.delta);
    else if (e.type === 'response.output_text.done') out.push(e.text);
    else if (e.type === 'response.content_part.done') out.push(e.part?.text);
    else if (e.type === 'response.output_item.done') e.item?.content?.forEach((c) => out.push(c.text));
    else if (e.type === 'response.completed') ofResponse(e.response);
  }
  return out;
}

const shown = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

async function read(mode: PiiMode, stream: boolean, seen: unknown[] = []): Promise<unknown[]> {
  return textsOf(await readResponses(piiOpenAI(h, mode), MODEL, stream, seen));
}

describe.each([false, true])(
  'a Responses output_text whose text is not a string (streamed: %s)',
  (stream) => {
    describe.each(SHAPES)('$name', (shape) => {
      it('detect reports what is in it', async () => {
        text = shape.value;
        await read('detect', stream);
        await eventually(() => piiEvents(h).length > 0);
        expect(piiEvents(h)[0]!.metadata).toMatchObject({ pii_types: [shape.pii], direction: 'output' });
      });

      it('block refuses the answer, none of it shown', async () => {
        text = shape.value;
        const seen: unknown[] = [];
        await expect(readResponses(piiOpenAI(h, 'block'), MODEL, stream, seen)).rejects.toBeInstanceOf(
          OutputBlockedError,
        );
        expect(textsOf(seen).map(shown).join('')).not.toMatch(/jane\.doe|4111/);
      });

      it('redact replaces it by the rewrite, everywhere it is repeated', async () => {
        text = shape.value;
        const texts = await read('redact', stream);
        expect(texts.length).toBeGreaterThan(0);
        for (const t of texts) {
          expect(typeof t).toBe('string');
          expect(t).toContain(`[REDACTED:${shape.pii}]`);
          expect(t).not.toMatch(/jane\.doe|4111/);
        }
      });
    });

    it('a clean one passes every mode as sent', async () => {
      text = { value: 'nothing here', n: 42 };
      for (const mode of ['detect', 'block', 'redact'] as const) {
        const texts = await read(mode, stream);
        expect(texts.length).toBeGreaterThan(0);
        for (const t of texts) expect(t).toEqual(text);
      }
      expect(piiEvents(h)).toEqual([]);
    });
  },
);
