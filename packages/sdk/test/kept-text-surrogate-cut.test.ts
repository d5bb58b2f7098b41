import { describe, expect, it } from 'vitest';
import { anthropicMessagesAdapter } from '../src/instrumentation/anthropic-messages.ts';
import { MAX_TELEMETRY_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';
import { outputChars } from '../src/instrumentation/lease.ts';
import { openaiResponsesAdapter } from '../src/instrumentation/openai-responses.ts';

/**
 * An unguarded stream past the telemetry's cap keeps a prefix of the text that crosses it and
 * counts what it left out (`droppedChars`, which the lease's output estimate adds). A prefix
 * never splits a surrogate pair: a cut that would is moved back one character, and that
 * character is counted as left out. The quotes a stream lists (Anthropic citations and text
 * blocks sent whole, Responses `annotation.added` titles and URLs; KeptText.addFrom) did not
 * count it: the estimate was one character short, found by seeded random Anthropic streams with
 * emoji (4 of 120 seeds; none after).
 */

const FILL = 'a'.repeat(MAX_TELEMETRY_TEXT_CHARS - 1);
/** A quote whose first character is a surrogate pair: the cap falls inside it. */
const QUOTE = `😀${'b'.repeat(10)}`;

describe('a quote the cap cuts inside a surrogate pair: every character read counted', () => {
  it('Anthropic citations_delta (before: one short)', () => {
    const acc = anthropicMessagesAdapter.newStream(undefined, false);
    const events = [
      { type: 'message_start', message: { id: 'm', model: 'x', usage: { input_tokens: 1 }, content: [] } },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: FILL } },
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'citations_delta', citation: { type: 'char_location', cited_text: QUOTE } },
      },
    ];
    for (const e of events) acc.observe(e);
    const s = acc.summary();
    expect(s.droppedChars).toBe(QUOTE.length);
    expect(outputChars(s)).toBe(FILL.length + QUOTE.length);
  });

  it('Responses annotation.added (before: one short)', () => {
    const acc = openaiResponsesAdapter.newStream(undefined, false);
    const at = { item_id: 'm', output_index: 0, content_index: 0 };
    const events = [
      { type: 'response.created', response: { id: 'r', model: 'm', status: 'in_progress', output: [] } },
      { type: 'response.output_text.delta', ...at, delta: FILL },
      {
        type: 'response.output_text.annotation.added',
        ...at,
        annotation_index: 0,
        annotation: { type: 'url_citation', title: QUOTE, url: '', start_index: 0, end_index: 1 },
      },
    ];
    for (const e of events) acc.observe(e);
    const s = acc.summary();
    expect(s.droppedChars).toBe(QUOTE.length);
    expect(outputChars(s)).toBe(FILL.length + QUOTE.length);
  });
});
