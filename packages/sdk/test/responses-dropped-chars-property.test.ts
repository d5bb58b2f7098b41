import { describe, expect, it } from 'vitest';
import { openaiResponsesAdapter } from '../src/instrumentation/openai-responses.ts';
import { outputChars } from '../src/instrumentation/lease.ts';
import { MAX_TELEMETRY_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';
import type { ResponseSummary } from '../src/instrumentation/adapter.ts';
import { run, type Ev } from './fixtures/responses-random-stream.ts';

/**
 * Random Responses streams, read as the instrumented client reads them (the adapter's
 * accumulator): each output character the stream delivered counts once in the summary's output
 * characters (lease.ts outputChars: the texts kept plus `droppedChars`), guarded or not, with or
 * without a terminal response. An unguarded accumulator keeps at most MAX_TELEMETRY_TEXT_CHARS
 * (1 Mi) characters of its texts and counts the rest, so there `droppedChars` is exactly the
 * characters read past what it kept. The expected count is the stream's own, computed here from
 * what was sent (not from the accumulator): per text (an output_text part, a refusal, an
 * annotation's title and url, a call's arguments) the longest of what its deltas carried and what
 * a done event, its item or the terminal response repeated whole. Reasoning is not output (the
 * lease's estimate leaves it out) but takes room under the cap.
 *
 * The streams are what the API sends, at random: items of text parts with annotations, refusal
 * parts, function calls and reasoning summaries, each text in deltas of random sizes or whole;
 * each done event (`output_text.done`, `refusal.done`, `function_call_arguments.done`,
 * `content_part.done`, `output_item.done`) and `annotation.added` sent or not; the stream cut at
 * a random event or run to its end; then no terminal event, `response.completed` (every item),
 * `response.incomplete` (the items as far as they came) or `response.failed` (no output). Texts
 * of up to 600 Ki characters: some streams cross the cap, most do not. The texts differ from
 * one another (two equal quotes are read as one; that is not the property here).
 */

function summaryOf(events: Ev[], guarded: boolean): ResponseSummary {
  const acc = openaiResponsesAdapter.newStream(undefined, guarded);
  for (const ev of events) acc.observe(ev);
  return acc.summary();
}

/** The characters of the texts a summary holds (outputChars without droppedChars). */
function keptChars(s: ResponseSummary): number {
  return outputChars({ ...s, droppedChars: undefined });
}

const SEEDS = Array.from({ length: 200 }, (_, i) => i + 1);

describe('Responses streams: each output character read counts once in droppedChars / the output estimate', () => {
  it('some of the random streams cross the cap, some do not, all four endings come', () => {
    let crossed = 0;
    const endings = new Set<string>();
    for (const seed of SEEDS) {
      const { events, terminal } = run(seed);
      endings.add(terminal);
      if (summaryOf(events, false).droppedChars !== undefined) crossed++;
    }
    expect(crossed).toBeGreaterThan(SEEDS.length / 5);
    expect(crossed).toBeLessThan(SEEDS.length);
    expect(endings.size).toBe(4);
  });

  it.each(SEEDS)('seed %i: unguarded, droppedChars is the characters read past what was kept', (seed) => {
    const { events, expected } = run(seed);
    const s = summaryOf(events, false);
    const dropped = s.droppedChars ?? 0;
    expect({ seed, counted: outputChars(s) }).toEqual({ seed, counted: expected });
    expect(dropped).toBe(expected - keptChars(s));
    // The deltas' copy holds at most the cap.
    expect(s.text.length).toBeLessThanOrEqual(MAX_TELEMETRY_TEXT_CHARS);
  });

  it.each(SEEDS)('seed %i: guarded, everything read is kept and nothing counted as dropped', (seed) => {
    const { events, expected } = run(seed);
    const s = summaryOf(events, true);
    expect(s.droppedChars).toBeUndefined();
    expect({ seed, counted: outputChars(s) }).toEqual({ seed, counted: expected });
  });
});
