import { describe, expect, it } from 'vitest';
import { redact } from '@llmsec/core';
import { OutputBlockedError } from '../src/instrumentation/errors.ts';
import { WITHHELD } from '../src/instrumentation/output-texts.ts';
import { useInstrHarness } from './fixtures/instr-harness.ts';
import type { FakeRequest, FakeResponse, SseEvent } from '../../../examples/fake-llm/server.ts';
import { piiOpenAI } from './fixtures/pii-guarded-client.ts';

/**
 * A Responses stream whose done events do not repeat what the part's deltas joined to (a part
 * with no deltas at all, or a done text that differs from them), an address cut between two
 * output items. The done events of one part (`output_text.done`, `content_part.done`,
 * `output_item.done`) were then rewritten alone, and each half of the address, found in
 * neither part on its own, reached the reader in them (the deltas, the final response and the
 * non-streamed output read the parts back to back and were right). Now a part's repeat is what
 * its deltas were delivered as, when it had any; a part that had none is withheld in those
 * events (its neighbours may complete a finding cut at its edge), and the final response, which
 * holds every part, is rewritten whole as before. Through openai 7 against the fake server.
 */

const HALVES = ['Write to jane.doe@exa', 'mple.com today.'];
/** 'cut': no deltas and no terminal response (the connection ends after the done events). */
let variant: 'no deltas' | 'done differs' | 'cut' = 'no deltas';

function part(text: string) {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}
function item(i: number, parts: string[], status = 'completed') {
  return { id: `msg_${i}`, type: 'message', role: 'assistant', status, content: parts.map(part) };
}
function response(status: string, output: unknown[]) {
  return {
    id: 'resp_d',
    object: 'response',
    created_at: 1,
    model: 'gpt-4o-mini',
    status,
    output,
    usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
  };
}

function script(req: FakeRequest): FakeResponse | undefined {
  if (!req.path.endsWith('/v1/responses')) return undefined;
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>): SseEvent => ({
    event: type,
    data: { type, sequence_number: seq++, ...data },
  });
  const events: SseEvent[] = [ev('response.created', { response: response('in_progress', []) })];
  const done = HALVES.map((t) => (variant === 'done differs' ? `${t} ` : t));
  HALVES.forEach((text, oi) => {
    const at = { item_id: `msg_${oi}`, output_index: oi, content_index: 0 };
    events.push(ev('response.output_item.added', { output_index: oi, item: item(oi, [], 'in_progress') }));
    events.push(ev('response.content_part.added', { ...at, part: part('') }));
    if (variant === 'done differs')
      events.push(ev('response.output_text.delta', { ...at, delta: text, logprobs: [] }));
    events.push(ev('response.output_text.done', { ...at, text: done[oi], logprobs: [] }));
    events.push(ev('response.content_part.done', { ...at, part: part(done[oi]!) }));
    events.push(ev('response.output_item.done', { output_index: oi, item: item(oi, [done[oi]!]) }));
  });
  if (variant === 'cut') return { kind: 'sse', events };
  events.push(
    ev('response.completed', {
      response: response(
        'completed',
        done.map((t, i) => item(i, [t])),
      ),
    }),
  );
  return { kind: 'sse', events };
}

const h = useInstrHarness({ script });
const leaks = (v: unknown) => /jane|doe@|mple\.com/.test(JSON.stringify(v));

async function read() {
  const s = piiOpenAI(h, 'redact').responses.stream({ model: 'gpt-4o-mini', input: 'hi' });
  const events = [];
  for await (const e of s) events.push(e);
  const final = await s.finalResponse();
  const doneTexts = events.flatMap((e) => (e.type === 'response.output_text.done' ? [e.text] : []));
  return { events, final, doneTexts };
}

describe("Responses done events that do not repeat their part's deltas", () => {
  it('a part with no deltas: its done events are withheld, the final response redacted whole', async () => {
    variant = 'no deltas';
    const { events, final, doneTexts } = await read();
    expect(leaks(events)).toBe(false);
    expect(leaks(final)).toBe(false);
    expect(doneTexts).toEqual([WITHHELD, WITHHELD]);
    expect(final.output_text).toBe(redact(HALVES.join('')).text);
  });

  it('a done text that differs from the deltas: the done events repeat what the deltas delivered', async () => {
    variant = 'done differs';
    const { events, final, doneTexts } = await read();
    expect(leaks(events)).toBe(false);
    expect(leaks(final)).toBe(false);
    expect(doneTexts).toEqual(['Write to [REDACTED:email]', ' today.']);
  });
});

// Block and detect read the deltas: a part repeated with text its deltas did not carry went out
// in its done events before the end check blocked on the terminal response, and without a
// terminal response it was never read. Now such a repeat holds the stream to the end check,
// which reads the repeated texts (responses-repeats.ts).
describe('block and detect: repeats with text the deltas did not carry', () => {
  it('block, no deltas: no done event reaches the reader before the end check blocks', async () => {
    variant = 'no deltas';
    const s = await piiOpenAI(h, 'block').responses.create({
      model: 'gpt-4o-mini',
      input: 'hi',
      stream: true,
    });
    const events: unknown[] = [];
    const reading = (async () => {
      for await (const e of s) events.push(e);
    })();
    await expect(reading).rejects.toBeInstanceOf(OutputBlockedError);
    expect(leaks(events)).toBe(false);
    expect(events.length).toBeGreaterThan(0); // response.created and the first item's start
  });

  it('block, no deltas, no terminal response: the end check reads the repeats and blocks', async () => {
    variant = 'cut';
    const s = await piiOpenAI(h, 'block').responses.create({
      model: 'gpt-4o-mini',
      input: 'hi',
      stream: true,
    });
    const events: unknown[] = [];
    const reading = (async () => {
      for await (const e of s) events.push(e);
    })();
    await expect(reading).rejects.toBeInstanceOf(OutputBlockedError);
    expect(leaks(events)).toBe(false);
  });

  it('detect, no deltas, no terminal response: one pii_detected', async () => {
    variant = 'cut';
    h.recorded.length = 0;
    const s = await piiOpenAI(h, 'detect').responses.create({
      model: 'gpt-4o-mini',
      input: 'hi',
      stream: true,
    });
    for await (const _ of s);
    expect(h.recorded.filter((e) => e.category === 'pii_detected')).toHaveLength(1);
  });
});
