import OpenAI from 'openai';
import OpenAI6 from 'openai-v6';
import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { piiGuard } from '../src/guards/index.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';

/**
 * A Responses answer in several output_text parts (or output items), and the parts'
 * annotations, through the real openai 7 and 6 clients against the fake server
 * (src/instrumentation/responses-output.ts):
 *
 * - an address cut between two parts (or two items) was read with '\n' between the halves, so
 *   piiGuard found nothing and the response carried it whole; streamed, the deltas were
 *   redacted but the final response's parts were rewritten one by one and carried it whole too;
 * - annotations' titles and URLs were never read: an address there passed in every mode.
 */

const HALVES = ['Write to jane.doe@exa', 'mple.com today.'];
const WHOLE = redact(HALVES.join('')).text;

/** The answer's items, each a list of [text, annotations]: set per test. */
let items: Array<Array<[string, unknown[]]>> = [];

function part(text: string, annotations: unknown[]) {
  return { type: 'output_text', text, annotations, logprobs: [] };
}

function item(i: number, parts: Array<[string, unknown[]]>, status = 'completed') {
  return {
    id: `msg_${i}`,
    type: 'message',
    role: 'assistant',
    status,
    content: parts.map(([t, a]) => part(t, a)),
  };
}

function response(status: string, output: unknown[]) {
  return {
    id: 'resp_parts',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output,
    usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 },
  };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  const output = items.map((parts, i) => item(i, parts));
  if (req.body.stream !== true) return { kind: 'json', body: response('completed', output) };
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  const events: SseEvent[] = [ev('response.created', { response: response('in_progress', []) })];
  items.forEach((parts, oi) => {
    events.push(ev('response.output_item.added', { output_index: oi, item: item(oi, [], 'in_progress') }));
    parts.forEach(([text, annotations], ci) => {
      const at = { item_id: `msg_${oi}`, output_index: oi, content_index: ci };
      events.push(ev('response.content_part.added', { ...at, part: part('', []) }));
      events.push(ev('response.output_text.delta', { ...at, delta: text, logprobs: [] }));
      annotations.forEach((annotation, ai) =>
        events.push(ev('response.output_text.annotation.added', { ...at, annotation_index: ai, annotation })),
      );
      events.push(ev('response.output_text.done', { ...at, text, logprobs: [] }));
      events.push(ev('response.content_part.done', { ...at, part: part(text, annotations) }));
    });
    events.push(ev('response.output_item.done', { output_index: oi, item: item(oi, parts) }));
  });
  events.push(
    ev('response.completed', {
      response: response(
        'completed',
        items.map((p, i) => item(i, p)),
      ),
    }),
  );
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });

function clients(mode: 'redact' | 'block' = 'redact') {
  const options = { ...h.options(), guards: { output: [piiGuard({ mode, directions: ['output'] })] } };
  const opts = { apiKey: 'x', baseURL: h.fake.openaiBaseURL, maxRetries: 0 };
  return [
    ['openai 7', instrumentClient(new OpenAI(opts), options)],
    ['openai 6', instrumentClient(new OpenAI6(opts) as unknown as OpenAI, options)],
  ] as const;
}

const leaks = (v: unknown) => /jane|doe@|mple\.com/.test(JSON.stringify(v));

function partsOf(r: OpenAI.Responses.Response): string[] {
  return r.output.flatMap((o) =>
    o.type === 'message' ? o.content.map((p) => (p.type === 'output_text' ? p.text : '')) : [],
  );
}

describe('Responses: an address cut between two output parts', () => {
  for (const shape of ['two parts of one item', 'two items'] as const) {
    it(`not streamed, ${shape}: redacted whole, each part keeping its side of the cut`, async () => {
      items =
        shape === 'two items'
          ? [[[HALVES[0]!, []]], [[HALVES[1]!, []]]]
          : [
              [
                [HALVES[0]!, []],
                [HALVES[1]!, []],
              ],
            ];
      for (const [name, c] of clients()) {
        const r = await c.responses.create({ model: 'gpt-4o-mini', input: 'hi' });
        expect(leaks(r), name).toBe(false);
        expect(partsOf(r), name).toEqual(['Write to [REDACTED:email]', ' today.']);
        expect(r.output_text, name).toBe(WHOLE);
      }
    });

    it(`streamed, ${shape}: the deltas, every done event and the final response are redacted`, async () => {
      items =
        shape === 'two items'
          ? [[[HALVES[0]!, []]], [[HALVES[1]!, []]]]
          : [
              [
                [HALVES[0]!, []],
                [HALVES[1]!, []],
              ],
            ];
      for (const [name, c] of clients()) {
        const s = c.responses.stream({ model: 'gpt-4o-mini', input: 'hi' });
        let text = '';
        const events = [];
        for await (const e of s) {
          if (e.type === 'response.output_text.delta') text += e.delta;
          events.push(e);
        }
        const final = await s.finalResponse();
        expect(text, name).toBe(WHOLE);
        // Each part's done events repeat what its deltas became.
        expect(leaks(events), name).toBe(false);
        const done = events.flatMap((e) => (e.type === 'response.output_text.done' ? [e.text] : []));
        expect(done, name).toEqual(['Write to [REDACTED:email]', ' today.']);
        expect(leaks(final), name).toBe(false);
        expect(partsOf(final), name).toEqual(['Write to [REDACTED:email]', ' today.']);
      }
    });
  }
});

describe('Responses: annotations of output_text parts', () => {
  const annotation = {
    type: 'url_citation',
    start_index: 0,
    end_index: 4,
    title: 'Contact jane.doe@example.com',
    url: 'https://example.org/?mail=jane.doe@example.com',
  };
  const redacted = { ...annotation, title: redact(annotation.title).text, url: redact(annotation.url).text };

  it('not streamed, redact: title and URL redacted, the clean text kept', async () => {
    items = [[['See the page.', [annotation]]]];
    for (const [name, c] of clients()) {
      h.recorded.length = 0;
      const r = await c.responses.create({ model: 'gpt-4o-mini', input: 'hi' });
      expect(leaks(r), name).toBe(false);
      expect(r.output_text, name).toBe('See the page.');
      const p = r.output[0]?.type === 'message' ? r.output[0].content[0] : undefined;
      expect(p?.type === 'output_text' ? p.annotations : undefined, name).toEqual([redacted]);
      expect(
        h.recorded.filter((e) => e.category === 'pii_detected'),
        name,
      ).toHaveLength(1);
    }
  });

  it('streamed, redact: the annotation.added event and the final response carry no address', async () => {
    items = [[['See the page.', [annotation]]]];
    for (const [name, c] of clients()) {
      h.recorded.length = 0;
      const s = await c.responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
      const events = [];
      for await (const e of s) events.push(e);
      expect(leaks(events), name).toBe(false);
      const added = events.find((e) => e.type === 'response.output_text.annotation.added');
      expect(
        added?.type === 'response.output_text.annotation.added' ? added.annotation : undefined,
        name,
      ).toEqual(redacted);
      // The end check reads the annotations too: one pii_detected.
      expect(
        h.recorded.filter((e) => e.category === 'pii_detected'),
        name,
      ).toHaveLength(1);
    }
  });

  it('not streamed, block: an address in an annotation blocks', async () => {
    items = [[['See the page.', [annotation]]]];
    for (const [name, c] of clients('block'))
      await expect(c.responses.create({ model: 'gpt-4o-mini', input: 'hi' }), name).rejects.toBeInstanceOf(
        OutputBlockedError,
      );
  });
});

/** A seeded generator (mulberry32), so a failure names its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['the', 'answer', 'is', 'here,', 'write', 'to', 'or', 'call', 'now.', 'thanks'];
const FOUND = ['jane.doe@example.com', '4111 1111 1111 1111', '+44 20 7946 0958', '123-45-6789'];

describe('Responses parts, differential: what the app reads equals redact of the whole answer', () => {
  it('60 random answers cut into 2-5 parts over 1-2 items at random offsets, streamed and not', async () => {
    const [, c] = clients()[0]!;
    for (let seed = 1; seed <= 60; seed++) {
      const r = rng(seed);
      const words: string[] = [];
      for (let i = 0, n = 4 + Math.floor(r() * 10); i < n; i++)
        words.push(
          r() < 0.25 ? FOUND[Math.floor(r() * FOUND.length)]! : WORDS[Math.floor(r() * WORDS.length)]!,
        );
      const full = words.join(' ');
      const cuts = new Set<number>();
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++)
        cuts.add(1 + Math.floor(r() * (full.length - 1)));
      const at = [0, ...[...cuts].sort((a, b) => a - b), full.length];
      const parts: Array<[string, unknown[]]> = [];
      for (let i = 1; i < at.length; i++) parts.push([full.slice(at[i - 1], at[i]), []]);
      const split = r() < 0.5 ? 0 : Math.floor(parts.length / 2);
      items = split === 0 ? [parts] : [parts.slice(0, split), parts.slice(split)];
      const expected = redact(full).text;
      const tag = `seed ${seed}: ${JSON.stringify(parts.map(([t]) => t))}`;

      const plain = await c.responses.create({ model: 'gpt-4o-mini', input: 'hi' });
      expect(partsOf(plain).join(''), tag).toBe(expected);

      const s = c.responses.stream({ model: 'gpt-4o-mini', input: 'hi' });
      let deltas = '';
      let done = '';
      for await (const e of s) {
        if (e.type === 'response.output_text.delta') deltas += e.delta;
        if (e.type === 'response.output_text.done') done += e.text;
      }
      const final = await s.finalResponse();
      expect(deltas, tag).toBe(expected);
      expect(done, tag).toBe(expected);
      expect(partsOf(final).join(''), tag).toBe(expected);
    }
  });
});
