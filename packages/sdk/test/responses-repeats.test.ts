import { describe, expect, it } from 'vitest';
import { KeptText } from '../src/instrumentation/kept-text.ts';
import { ResponsesRepeats } from '../src/instrumentation/responses-repeats.ts';

/**
 * ResponsesRepeats: a part's repeat that is its deltas joined is read (nothing flagged, so a
 * piiGuard block stream is not held to its end); one with other text, or with no deltas, or
 * whose part never started (no content_part.added), is flagged and its text kept for the end check.
 */

const part = (t: string) => ({ type: 'output_text', text: t });

/** The deltas as a stream sends them: each part's content_part.added before its first delta. */
function feed(r: ResponsesRepeats, deltas: Array<[number, number, string]>): string {
  let text = '';
  let last = '';
  for (const [oi, ci, d] of deltas) {
    if (`${oi}:${ci}` !== last) {
      last = `${oi}:${ci}`;
      expect(
        r.repeat(
          'response.content_part.added',
          { output_index: oi, content_index: ci, part: part('') },
          text,
        ),
      ).toBe(false);
    }
    text += d;
  }
  return text;
}

describe('ResponsesRepeats', () => {
  it('repeats equal to their deltas (two parts, two items): nothing unread', () => {
    const r = new ResponsesRepeats(new KeptText(true));
    const text = feed(r, [
      [0, 0, 'Hello '],
      [0, 0, 'there.'],
      [0, 1, 'Second.'],
      [1, 0, 'Third'],
    ]);
    const events: Array<[string, Record<string, unknown>]> = [
      ['response.output_text.done', { output_index: 0, content_index: 0, text: 'Hello there.' }],
      ['response.content_part.done', { output_index: 0, content_index: 1, part: part('Second.') }],
      [
        'response.output_item.done',
        { output_index: 0, item: { content: [part('Hello there.'), part('Second.')] } },
      ],
      ['response.output_item.added', { output_index: 1, item: { content: [] } }],
      ['response.output_item.done', { output_index: 1, item: { content: [part('Third')] } }],
    ];
    for (const [type, ev] of events) expect(r.repeat(type, ev, text), type).toBe(false);
    expect(r.unread).toBeUndefined();
  });

  it('a part without deltas, one never started and a repeat that differs are unread, joined in order', () => {
    const r = new ResponsesRepeats(new KeptText(true));
    const text = feed(r, [[0, 0, 'abc']]);
    expect(
      r.repeat('response.output_text.done', { output_index: 0, content_index: 0, text: 'abX' }, text),
    ).toBe(true);
    // Started, no deltas.
    expect(
      r.repeat('response.content_part.added', { output_index: 1, content_index: 0, part: part('') }, text),
    ).toBe(false);
    expect(
      r.repeat('response.output_item.done', { output_index: 1, item: { content: [part('def')] } }, text),
    ).toBe(true);
    // The same part again: kept once.
    expect(
      r.repeat('response.content_part.done', { output_index: 1, content_index: 0, part: part('def') }, text),
    ).toBe(true);
    // Never started (no content_part.added), repeated with text the deltas happen to hold.
    expect(
      r.repeat('response.output_text.done', { output_index: 2, content_index: 0, text: 'abc' }, text),
    ).toBe(true);
    expect(r.unread).toBe('abXdefabc');
  });

  it('a hostile stream of parts: at most 1,024 tracked, an untracked part is read, nothing dropped', () => {
    const r = new ResponsesRepeats(new KeptText(true));
    const text = feed(
      r,
      Array.from({ length: 3000 }, (_, i): [number, number, string] => [i, 0, 'x']),
    );
    expect((r as unknown as { spans: Map<string, unknown> }).spans.size).toBe(1024);
    // A tracked part repeated as its deltas: read; one past the cap: unread, its text kept.
    expect(
      r.repeat('response.output_text.done', { output_index: 2999, content_index: 0, text: 'x' }, text),
    ).toBe(true);
    // 3,000 parts without deltas: every text in what the end check reads, past the cap too.
    for (let i = 0; i < 3000; i++)
      r.repeat(
        'response.output_text.done',
        { output_index: 10_000 + i, content_index: 0, text: `p${i};` },
        text,
      );
    const unread = r.unread as string;
    expect(unread.startsWith('xp0;p1;')).toBe(true);
    expect(unread.endsWith('p2999;')).toBe(true);
    expect(unread.split(';').length - 1).toBe(3000);
  });
});
