import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A redact stream's `response.output_text.annotation.added` offsets, through the real openai 7
 * client against the fake server (responses-stream-rewrite.ts). piiGuard redact delivers the
 * part's text with a placeholder in place of an address (another length); the part's done
 * events and the final response had their annotations realigned (annotation-offsets.ts), but
 * the annotation.added events kept the offsets as sent, so an app linking citations as they
 * come marked the wrong characters of the text it was given.
 */

const EMAIL = 'jane.doe@example.com';
const TEXT = `Write to ${EMAIL}, see the team page for hours.`;

function span(s: string): { start_index: number; end_index: number } {
  const start_index = TEXT.indexOf(s);
  return { start_index, end_index: start_index + s.length };
}

/** Before the address, after it, over it. */
const ANNOTATIONS = [
  { type: 'url_citation', ...span('Write'), title: 'Mail', url: 'https://example.org/mail' },
  { type: 'url_citation', ...span('the team page'), title: 'Team', url: 'https://example.org/team' },
  { type: 'url_citation', ...span(EMAIL), title: 'Address', url: 'https://example.org/a' },
];

/** The deltas: 8 characters each. */
function deltas(): string[] {
  const out: string[] = [];
  for (let i = 0; i < TEXT.length; i += 8) out.push(TEXT.slice(i, i + 8));
  return out;
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const part = (text: string, annotations: unknown[]) => ({
    type: 'output_text',
    text,
    annotations,
    logprobs: [],
  });
  const item = (status: string, parts: unknown[]) => ({
    id: 'msg_0',
    type: 'message',
    role: 'assistant',
    status,
    content: parts,
  });
  const response = (status: string, output: unknown[]) => ({
    id: 'resp_a',
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
  const at = { item_id: 'msg_0', output_index: 0, content_index: 0 };
  const whole = () => part(TEXT, structuredClone(ANNOTATIONS));
  return {
    kind: 'sse',
    events: [
      ev('response.created', { response: response('in_progress', []) }),
      ev('response.output_item.added', { output_index: 0, item: item('in_progress', []) }),
      ev('response.content_part.added', { ...at, part: part('', []) }),
      ...deltas().map((d) => ev('response.output_text.delta', { ...at, delta: d, logprobs: [] })),
      ...ANNOTATIONS.map((annotation, annotation_index) =>
        ev('response.output_text.annotation.added', { ...at, annotation_index, annotation }),
      ),
      ev('response.output_text.done', { ...at, text: TEXT, logprobs: [] }),
      ev('response.content_part.done', { ...at, part: whole() }),
      ev('response.output_item.done', { output_index: 0, item: item('completed', [whole()]) }),
      ev('response.completed', { response: response('completed', [item('completed', [whole()])]) }),
    ],
  };
}

const h = useInstrHarness({ script });

describe('redact stream: response.output_text.annotation.added offsets', () => {
  it('point into the text the reader got: kept before the address, moved after it, none over it', async () => {
    const c = instrumentClient(new OpenAI({ apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }), {
      ...h.options(),
      guards: { output: [piiGuard({ mode: 'redact', directions: ['output'] })] },
    });
    const s = c.responses.stream({ model: 'gpt-4o-mini', input: 'hi' });
    let text = '';
    const added: Array<Record<string, unknown>> = [];
    for await (const e of s) {
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.output_text.annotation.added')
        added.push(e.annotation as unknown as Record<string, unknown>);
    }
    expect(text).toBe(TEXT.replace(EMAIL, '[REDACTED:email]'));
    // Each event's annotation, where it has offsets, marks in the delivered text what it marked.
    const marked = added.flatMap((a) =>
      typeof a.start_index === 'number' && typeof a.end_index === 'number'
        ? [[a.title, text.slice(a.start_index, a.end_index)]]
        : [],
    );
    expect(marked).toEqual([
      ['Mail', 'Write'],
      ['Team', 'the team page'],
    ]);
    // The one over the address cannot be placed: it carries no offsets (the event still comes).
    expect(added).toHaveLength(3);
    expect(added[2]).not.toHaveProperty('start_index');
    expect(added[2]).not.toHaveProperty('end_index');
    // The final response agrees (realigned there before this change too).
    const final = await s.finalResponse();
    const p = final.output[0];
    const finalPart = p?.type === 'message' ? p.content[0] : undefined;
    expect(finalPart?.type === 'output_text' ? finalPart.text : '').toBe(text);
  });
});
