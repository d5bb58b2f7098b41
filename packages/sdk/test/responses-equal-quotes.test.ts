import { describe, expect, it } from 'vitest';
import { openaiResponsesAdapter } from '../src/instrumentation/openai-responses.ts';
import { outputChars } from '../src/instrumentation/lease.ts';
import { MAX_TELEMETRY_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';

/**
 * A Responses stream repeats each annotation whole: in `output_text.annotation.added` (when the
 * server sends it), then in its part's `content_part.done` and its item's `output_item.done`. The
 * accumulator reads each annotation's title and URL once, so it tells a repeat from a new quote.
 * Before, it told them by their text alone, stream-wide: a second annotation with the same title
 * as an earlier one (two citations of one page, in one part or in two) was taken for a repeat and
 * not read, its characters left out of what the end check reads and of the lease's output
 * estimate (`droppedChars` past the cap). Now a quote is a repeat only as often as its part already
 * carried that text: two equal titles in one part's list are two quotes, the same title in two
 * parts is one in each, and the done events that repeat a part's list add nothing.
 */

type Ev = Record<string, unknown>;

const created: Ev = {
  type: 'response.created',
  response: { id: 'r', model: 'm', status: 'in_progress', output: [] },
};

const cite = (title: string): Ev => ({ type: 'url_citation', title, url: '', start_index: 0, end_index: 1 });

/** Part `c` of item `o`: its text and these annotations. */
const part = (text: string, titles: string[]): Ev => ({
  type: 'output_text',
  text,
  annotations: titles.map(cite),
});

/** A message item `o` with these parts, sent as the API sends it; annotation.added for `added` (part, index) pairs. */
function message(o: number, parts: Ev[], added: Array<[number, number]> = []): Ev[] {
  const item = { type: 'message', id: `m${o}`, content: parts };
  const out: Ev[] = [{ type: 'response.output_item.added', output_index: o, item: { ...item, content: [] } }];
  for (const [c, p] of parts.entries()) {
    const at = { item_id: `m${o}`, output_index: o, content_index: c };
    out.push({ type: 'response.content_part.added', ...at, part: { ...p, text: '', annotations: [] } });
    out.push({ type: 'response.output_text.delta', ...at, delta: p.text });
    for (const [ac, a] of added)
      if (ac === c)
        out.push({
          type: 'response.output_text.annotation.added',
          ...at,
          annotation_index: a,
          annotation: (p.annotations as Ev[])[a],
        });
    out.push({ type: 'response.output_text.done', ...at, text: p.text });
    out.push({ type: 'response.content_part.done', ...at, part: p });
  }
  out.push({ type: 'response.output_item.done', output_index: o, item });
  return out;
}

function summaryOf(events: Ev[], guarded: boolean) {
  const acc = openaiResponsesAdapter.newStream(undefined, guarded);
  for (const ev of events) acc.observe(ev);
  return acc.summary();
}

const T = 'Example page';
const U = 'Another page';

describe.each([true, false])('guarded %s: each annotation read once, equal titles each read', (guarded) => {
  it('two equal titles in one part, no annotation.added: two quotes (before: one)', () => {
    const s = summaryOf([created, ...message(0, [part('hello', [T, T])])], guarded);
    expect(s.side).toEqual([T, T]);
  });

  it('one of them sent in annotation.added: still two, the done events repeat them', () => {
    const s = summaryOf([created, ...message(0, [part('hello', [T, U, T])], [[0, 2]])], guarded);
    expect([...(s.side ?? [])].sort()).toEqual([T, T, U].sort());
  });

  it('both sent in annotation.added: two, as before', () => {
    const s = summaryOf(
      [
        created,
        ...message(
          0,
          [part('hello', [T, T])],
          [
            [0, 0],
            [0, 1],
          ],
        ),
      ],
      guarded,
    );
    expect(s.side).toEqual([T, T]);
  });

  it('the same title in two parts of two items: one in each (before: one)', () => {
    const s = summaryOf([created, ...message(0, [part('a', [T])]), ...message(1, [part('b', [T])])], guarded);
    expect(s.side).toEqual([T, T]);
  });

  it('the same title in two parts of one item: one in each (before: one)', () => {
    const s = summaryOf([created, ...message(0, [part('a', [T]), part('b', [T])])], guarded);
    expect(s.side).toEqual([T, T]);
  });

  it('a title once: read once, its repeats in the done events not again', () => {
    const s = summaryOf([created, ...message(0, [part('hello', [T])])], guarded);
    expect(s.side).toEqual([T]);
  });
});

describe('an unguarded stream past the cap counts both of two equal titles', () => {
  const BIG = 'x'.repeat(MAX_TELEMETRY_TEXT_CHARS);
  const title = 't'.repeat(64 * 1024);

  it('in one part, no annotation.added (before: one counted)', () => {
    const s = summaryOf([created, ...message(0, [part(BIG, [title, title])])], false);
    expect(outputChars(s)).toBe(BIG.length + 2 * title.length);
  });

  it('one sent in annotation.added, both in the done events', () => {
    const s = summaryOf([created, ...message(0, [part(BIG, [title, title])], [[0, 0]])], false);
    expect(outputChars(s)).toBe(BIG.length + 2 * title.length);
  });

  it('in two items (before: one counted)', () => {
    const s = summaryOf(
      [created, ...message(0, [part(BIG, [title])]), ...message(1, [part('b', [title])])],
      false,
    );
    expect(outputChars(s)).toBe(BIG.length + 1 + 2 * title.length);
  });
});
