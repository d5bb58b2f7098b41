import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import type { GuardOptions, OutputGuard } from '../src/instrumentation/types.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';

/**
 * An Anthropic answer of several text blocks (the API cuts its text where a citation starts or
 * ends), non-streamed and streamed, through the real @anthropic-ai/sdk client against the fake
 * server: the output guards read the same text both ways (the blocks back to back, as the
 * stream's text deltas run on), a guard's rewrite goes back into each block (no empty text
 * block, which the API refuses when the app resends the answer; each block's citations stay
 * with its own text).
 */

/** The content blocks the fake server answers with (non-streamed as is, streamed as deltas). */
let answer: Array<Record<string, unknown>> = [];

function script(req: FakeRequest): FakeResponse | undefined {
  if (req.path !== '/v1/messages' || answer.length === 0) return undefined;
  const message = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5',
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 7 },
  };
  if (req.body.stream !== true) return { kind: 'json', body: { ...message, content: answer } };
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, ...data },
  });
  const events: SseEvent[] = [
    ev('message_start', { message: { ...message, content: [], stop_reason: null } }),
  ];
  answer.forEach((block, index) => {
    events.push(ev('content_block_start', { index, content_block: { ...block, text: '', citations: [] } }));
    // As the API does: a block's citations before its text.
    for (const citation of (block.citations as unknown[] | undefined) ?? [])
      events.push(ev('content_block_delta', { index, delta: { type: 'citations_delta', citation } }));
    const text = block.text as string;
    // Two deltas a block: a stream cuts its text anywhere.
    for (const piece of [text.slice(0, 3), text.slice(3)])
      if (piece !== '')
        events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }));
    events.push(ev('content_block_stop', { index }));
  });
  events.push(
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 7 },
    }),
  );
  events.push(ev('message_stop', {}));
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });

function client(guards: GuardOptions) {
  return instrumentClient(new Anthropic({ apiKey: 'x', baseURL: h.fake.url, maxRetries: 0 }), {
    ...h.options(),
    guards,
  });
}

/** An output guard that records the text it is given and lets it through. */
function recorder(): OutputGuard & { seen: string[] } {
  const seen: string[] = [];
  return {
    name: 'recorder',
    layer: 'custom',
    seen,
    checkResponse(output) {
      seen.push(output.text);
      return { action: 'allow' };
    },
  };
}

const text = (t: string, extra: Record<string, unknown> = {}) => ({ type: 'text', text: t, ...extra });

const CITATION = {
  type: 'char_location',
  cited_text: 'Owner: Jane Roe, jane.roe@example.com',
  document_index: 0,
  document_title: 'Team page',
  start_char_index: 0,
  end_char_index: 37,
};

const params = {
  model: 'claude-haiku-4-5',
  max_tokens: 50,
  messages: [{ role: 'user' as const, content: 'Who owns it?' }],
};

async function streamed(c: ReturnType<typeof client>): Promise<string> {
  let out = '';
  const stream = await c.messages.create({ ...params, stream: true });
  for await (const ev of stream)
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') out += ev.delta.text;
  return out;
}

describe('Anthropic answer of several text blocks: what the output guards read', () => {
  it('non-streamed and streamed, the guards read the same text: the blocks back to back, then the quotes', async () => {
    answer = [
      text('According to the page, '),
      text('the owner is Jane', { citations: [CITATION] }),
      text('.'),
    ];
    const g = recorder();
    const c = client({ output: [g] });
    await c.messages.create(params);
    await streamed(c);
    // The citation's quote and title after the text, a line each (output-texts.ts).
    const read =
      'According to the page, the owner is Jane.\nOwner: Jane Roe, jane.roe@example.com\nTeam page';
    expect(g.seen).toEqual([read, read]);
  });

  it('an email cut across two blocks is redacted non-streamed, as it is whole in the text the model wrote', async () => {
    answer = [text('Write to jane.roe@exa'), text('mple.com today.')];
    const m = await client({ output: [piiGuard({ mode: 'redact' })] }).messages.create(params);
    expect(JSON.stringify(m.content)).not.toContain('jane.roe');
    expect(JSON.stringify(m.content)).not.toContain('mple.com');
    expect(m.content).toEqual([text('Write to [REDACTED:email]'), text(' today.')]);
  });
});

describe("Anthropic answer of several text blocks: a guard's rewrite written back per block", () => {
  it('each block keeps its own text, the ones left alone their citations; none is left empty', async () => {
    answer = [
      text('According to the page, '),
      text('the owner is Jane Roe (jane.roe@example.com)', { citations: [CITATION] }),
      text('. Ask her.'),
    ];
    const m = await client({ output: [piiGuard({ mode: 'redact' })] }).messages.create(params);
    expect(m.content).toEqual([
      text('According to the page, '),
      // Rewritten: its citations go (they quote what the guard removed; below).
      text('the owner is Jane Roe ([REDACTED:email])'),
      text('. Ask her.'),
    ]);
  });

  it('nothing a guard removed comes back in a citation: a rewritten block loses its citations, the others keep theirs', async () => {
    // The quote beside the text is the source of what the guard redacted: kept, it handed the
    // address to the app (and a UI showing sources) after the guard removed it from the text.
    const other = {
      ...CITATION,
      cited_text: 'Opening hours: 9 to 5',
      start_char_index: 40,
      end_char_index: 61,
    };
    answer = [
      text('Write to jane.roe@example.com', { citations: [CITATION] }),
      text(', open 9 to 5.', { citations: [other] }),
    ];
    const m = await client({ output: [piiGuard({ mode: 'redact' })] }).messages.create(params);
    expect(JSON.stringify(m)).not.toContain('jane.roe');
    expect(m.content).toEqual([
      text('Write to [REDACTED:email]'),
      text(', open 9 to 5.', { citations: [other] }),
    ]);
  });

  it('a block whose whole text a guard removed is dropped, never sent empty or with its old text', async () => {
    answer = [
      text('Reach her at '),
      text('jane.roe@example.com', { citations: [CITATION] }),
      text(' any day.'),
    ];
    const m = await client({ output: [piiGuard({ mode: 'redact' })] }).messages.create(params);
    const blocks = m.content as Array<{ type: string; text: string }>;
    expect(blocks.map((b) => b.text).join('')).toBe('Reach her at [REDACTED:email] any day.');
    for (const b of blocks) expect(b.text.trim()).not.toBe('');
    expect(JSON.stringify(blocks.map((b) => b.text))).not.toContain('jane.roe');
  });

  it('a custom guard that removes a whole block: the block is dropped; all blank: every text block is', async () => {
    answer = [text('First part. '), text('Second part.'), text('\n\nThird part.')];
    const guard = (f: (t: string) => string): OutputGuard => ({
      name: 'shorten',
      layer: 'custom',
      checkResponse: (o) => ({ action: 'modify', text: f(o.text) }),
    });
    const c = client({ output: [guard((t) => t.replace('Second part.', ''))] });
    expect((await c.messages.create(params)).content).toEqual([
      text('First part. '),
      text('\n\nThird part.'),
    ]);
    const blank = client({ output: [guard((t) => t.replace(/[A-Za-z. ]+/g, ''))] });
    expect((await blank.messages.create(params)).content).toEqual([]);
  });

  it('hostile answers: thousands of blocks and non-string fields, linear, nothing thrown, tool_use kept', async () => {
    const n = 20_000;
    answer = [];
    for (let i = 0; i < n; i++) {
      answer.push(
        i % 1000 === 7 ? { type: 'text', text: 12 } : text(i % 2 === 0 ? `user${i}@exa` : 'mple.com '),
      );
      if (i % 5000 === 0) answer.push({ type: 'tool_use', id: `t${i}`, name: 'x', input: {} });
    }
    // The process's CPU time (the fake server included), not wall time: a linearity bound must
    // not measure the host's load.
    const started = process.cpuUsage();
    const m = await client({ output: [piiGuard({ mode: 'redact', maxChars: 1 << 22 })] }).messages.create(
      params,
    );
    const cpu = process.cpuUsage(started);
    const ms = (cpu.user + cpu.system) / 1000;
    const blocks = m.content as unknown as Array<Record<string, unknown>>;
    expect(blocks.filter((b) => b.type === 'tool_use')).toHaveLength(4);
    // A text that is not a string is read as its JSON text (response-text.ts): 12 is text of the
    // answer, between two halves of an address here, and redact writes its rewrite as a string.
    const texts = blocks
      .filter((b) => b.type === 'text')
      .map((b) => (typeof b.text === 'string' ? b.text : JSON.stringify(b.text)));
    for (const t of texts) expect(t.trim()).not.toBe('');
    expect(texts.join('')).not.toContain('@exa');
    expect(ms).toBeLessThan(5000);
  });
});
