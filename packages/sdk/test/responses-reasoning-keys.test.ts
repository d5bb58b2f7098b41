import { describe, expect, it } from 'vitest';
import { openaiResponsesAdapter } from '../src/instrumentation/openai-responses.ts';

/**
 * A streamed reasoning item's texts are kept by their own index (responses-reasoning.ts
 * reasoningTexts, summaryKey, contentKey): a summary entry without text before one with text
 * took no place of its own, so the item's done event keyed the second entry as the first
 * (`rs_1:0:text`) while its events named it by `summary_index` 1 (`rs_1:1:text`), and the end
 * check read the summary twice (a stream without a terminal response, which would have
 * dropped the repeat). Unit: the accumulator as call-stream.ts uses it.
 */

describe('Responses stream: reasoning texts by their own index', () => {
  it('a summary after an entry without text is read once, as the reasoning', () => {
    const acc = openaiResponsesAdapter.newStream({});
    const at = { item_id: 'rs_1', output_index: 0 };
    const item = {
      type: 'reasoning',
      id: 'rs_1',
      summary: [{ type: 'summary_text' }, { type: 'summary_text', text: 'Plan: write the note.' }],
      content: [{ type: 'reasoning_text', text: 'The note is short.' }],
    };
    acc.observe({
      type: 'response.output_item.added',
      output_index: 0,
      item: { ...item, summary: [], content: [] },
    });
    acc.observe({
      type: 'response.reasoning_summary_text.done',
      ...at,
      summary_index: 1,
      text: 'Plan: write the note.',
    });
    acc.observe({
      type: 'response.reasoning_text.done',
      ...at,
      content_index: 0,
      text: 'The note is short.',
    });
    acc.observe({ type: 'response.output_item.done', output_index: 0, item });
    const s = acc.summary();
    expect(s.reasoning).toEqual(['Plan: write the note.', 'The note is short.']);
    expect(s.toolArguments).toBeUndefined();
  });
});
