import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * OpenAI annotations point into the answer's text by offsets (`url_citation` `start_index` /
 * `end_index`; Responses `file_citation` `index`). piiGuard redact changes the text's length,
 * and the offsets pointed at the old positions: an app that renders citations from them linked
 * the wrong characters, or a placeholder's. Now an annotation in the text before the first
 * change keeps its offsets, one after the last change is moved by the change in length, and one
 * that overlaps a change (or lies between two) is removed: its span is not in the new text.
 * Through openai 7 against the fake server: chat, Responses, Responses streamed (the done
 * events and the final response).
 */

const EMAIL = 'jane.doe@example.com';
const LINK = '[docs](https://x.org)';
const TEXT = `Mail ${EMAIL} or see ${LINK}.`;
const linkAt = TEXT.indexOf(LINK);
const emailAt = TEXT.indexOf(EMAIL);
const NEW = `Mail [REDACTED:email] or see ${LINK}.`;

/** Before the email (kept), on the link after it (moved), on the email (removed). */
const spans = [
  { start_index: 0, end_index: 4, title: 'Mail', url: 'https://a.org/' },
  { start_index: linkAt, end_index: linkAt + LINK.length, title: 'Docs', url: 'https://x.org/' },
  { start_index: emailAt, end_index: emailAt + EMAIL.length, title: 'Staff', url: 'https://b.org/' },
];

function chat(stream: boolean): FakeResponse {
  if (stream) {
    const chunk = (delta: unknown, finish: string | null = null) => ({
      data: {
        id: 'chatcmpl-os',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'gpt-4o-mini',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      },
    });
    // The address cut across chunks; the annotations in a chunk of their own, after the text.
    return {
      kind: 'sse',
      events: [
        chunk({ role: 'assistant', content: TEXT.slice(0, 12) }),
        chunk({ content: TEXT.slice(12, 30) }),
        chunk({ content: TEXT.slice(30) }),
        chunk({ annotations: spans.map((s) => ({ type: 'url_citation', url_citation: { ...s } })) }),
        chunk({}, 'stop'),
        { data: '[DONE]' },
      ],
    };
  }
  return {
    kind: 'json',
    body: {
      id: 'chatcmpl-o',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: TEXT,
            refusal: null,
            annotations: spans.map((s) => ({ type: 'url_citation', url_citation: s })),
          },
          finish_reason: 'stop',
        },
      ],
    },
  };
}

const responsesAnnotations = [
  ...spans.map((s) => ({ type: 'url_citation', ...s })),
  { type: 'file_citation', file_id: 'f1', filename: 'a.pdf', index: linkAt },
];

function part(text: string, annotations: unknown[]) {
  return { type: 'output_text', text, annotations, logprobs: [] };
}

function item(text: string, annotations: unknown[], status = 'completed') {
  return { id: 'msg_o', type: 'message', role: 'assistant', status, content: [part(text, annotations)] };
}

function response(status: string, output: unknown[]) {
  return {
    id: 'resp_o',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output,
    usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
  };
}

function responses(stream: boolean): FakeResponse {
  const done = [item(TEXT, responsesAnnotations)];
  if (!stream) return { kind: 'json', body: response('completed', done) };
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  const at = { item_id: 'msg_o', output_index: 0, content_index: 0 };
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: response('in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: { ...item('', []), content: [] } }),
      ev('response.content_part.added', { ...at, part: part('', []) }),
      ev('response.output_text.delta', { ...at, delta: TEXT.slice(0, 12), logprobs: [] }),
      ev('response.output_text.delta', { ...at, delta: TEXT.slice(12), logprobs: [] }),
      ev('response.output_text.done', { ...at, text: TEXT, logprobs: [] }),
      ev('response.content_part.done', { ...at, part: part(TEXT, responsesAnnotations) }),
      ev('response.output_item.done', { output_index: 0, item: done[0] }),
      ev('response.completed', { response: response('completed', done) }),
    ],
  };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path.endsWith('/chat/completions')) return chat(req.body.stream === true);
  if (req.path.endsWith('/v1/responses')) return responses(req.body.stream === true);
  return undefined;
}

const h = useInstrHarness({ script });

function client() {
  return instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
    ...h.options(),
    guards: { output: [piiGuard({ directions: ['output'] })] },
  });
}

/** What each kept annotation's offsets select in `text` (a point: the character at it). */
function selected(text: string, list: ReadonlyArray<Record<string, unknown>>): string[] {
  return list.map((a) => {
    const o = (typeof a.type === 'string' && typeof a[a.type] === 'object' ? a[a.type] : a) as Record<
      string,
      unknown
    >;
    if (typeof o.index === 'number') return `@${text.slice(o.index, o.index + LINK.length)}`;
    return text.slice(o.start_index as number, o.end_index as number);
  });
}

function partOf(r: OpenAI.Responses.Response) {
  const o = r.output[0];
  const p = o?.type === 'message' ? o.content[0] : undefined;
  return p?.type === 'output_text' ? p : undefined;
}

describe('annotation offsets after a redaction changed the text', () => {
  it('chat: kept before, moved after, removed on the redaction', async () => {
    const r = await client().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const m = r.choices[0]!.message;
    expect(m.content).toBe(NEW);
    expect(selected(NEW, m.annotations as unknown as Array<Record<string, unknown>>)).toEqual(['Mail', LINK]);
  });

  it("chat streamed: the annotation chunk's offsets, and chat.completions.stream()'s final message", async () => {
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
    const s = await client().chat.completions.create({ ...ask, stream: true });
    let content = '';
    const annotations: Array<Record<string, unknown>> = [];
    for await (const c of s) {
      const d = c.choices[0]?.delta as { content?: string; annotations?: Array<Record<string, unknown>> };
      content += d?.content ?? '';
      annotations.push(...(d?.annotations ?? []));
    }
    expect(content).toBe(NEW);
    // 'Mail' shares its chunk with the address's start: outside the changed region, kept.
    expect(selected(NEW, annotations)).toEqual(['Mail', LINK]);
    const final = await client().chat.completions.stream(ask).finalChatCompletion();
    const m = final.choices[0]!.message;
    expect(m.content).toBe(NEW);
    expect(selected(NEW, m.annotations as unknown as Array<Record<string, unknown>>)).toEqual(['Mail', LINK]);
  });

  it('Responses: url_citation spans and a file_citation index', async () => {
    const r = await client().responses.create({ model: 'gpt-4o-mini', input: 'hi' });
    const p = partOf(r)!;
    expect(p.text).toBe(NEW);
    expect(selected(NEW, p.annotations as unknown as Array<Record<string, unknown>>)).toEqual([
      'Mail',
      LINK,
      `@${LINK}`,
    ]);
  });

  it('Responses streamed: the part done event and the final response', async () => {
    const s = client().responses.stream({ model: 'gpt-4o-mini', input: 'hi' });
    const parts = [];
    for await (const e of s) if (e.type === 'response.content_part.done') parts.push(e.part);
    const final = partOf(await s.finalResponse())!;
    const want = ['Mail', LINK, `@${LINK}`];
    expect(final.text).toBe(NEW);
    expect(selected(NEW, final.annotations as unknown as Array<Record<string, unknown>>)).toEqual(want);
    const done = parts[0]!;
    expect(done.type === 'output_text' ? selected(done.text, done.annotations as never) : []).toEqual(want);
  });
});
