import { describe, expect, it } from 'vitest';
import { seededRandom } from '@llmsec/core';
import { anthropicMessagesAdapter } from '../src/instrumentation/anthropic-messages.ts';
import { outputChars } from '../src/instrumentation/lease.ts';
import { MAX_TELEMETRY_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';
import type { ResponseSummary } from '../src/instrumentation/adapter.ts';

/**
 * Random Anthropic Messages streams, read as the instrumented client reads them (the adapter's
 * accumulator): each output character delivered counts once in the summary's output characters
 * (lease.ts outputChars: the texts kept plus `droppedChars`), guarded or not, whether the stream
 * ends with message_stop or is cut. An Anthropic stream only appends (no event repeats a text),
 * so the count is the sum of what its events carried: text deltas, text blocks sent whole in
 * content_block_start or message_start (a proxy's), citations (quote and titles), tool inputs
 * (sent whole as JSON, or in input_json_delta pieces). Thinking is not output (the lease's
 * estimate leaves it out) but takes room under the cap. Unguarded, the texts kept stay under
 * MAX_TELEMETRY_TEXT_CHARS and `droppedChars` is exactly the rest.
 */

type Ev = Record<string, unknown>;

let serial = 0;
/** `n` characters unlike any other text's: a serial number, then one letter repeated. */
function text(r: () => number, max: number, letter: string): string {
  const n = r() < 0.3 ? 1 + Math.floor(r() * 200) : 1 + Math.floor(r() * max);
  const head = `<${serial++}>`;
  return head + letter.repeat(Math.max(0, n - head.length));
}

function pieces(r: () => number, whole: string): string[] {
  const at = new Set<number>();
  const k = 1 + Math.floor(r() * 6);
  for (let i = 1; i < k; i++) at.add(Math.floor(r() * whole.length));
  const cuts = [0, ...[...at].filter((x) => x > 0).sort((a, b) => a - b), whole.length];
  const out: string[] = [];
  for (let i = 1; i < cuts.length; i++)
    if (cuts[i]! > cuts[i - 1]!) out.push(whole.slice(cuts[i - 1], cuts[i]));
  return out;
}

/** A stream's events, each with the output characters it carries. */
function makeStream(seed: number): { ev: Ev; chars: number }[] {
  serial = 0;
  const r = seededRandom(seed);
  const out: { ev: Ev; chars: number }[] = [];
  const add = (ev: Ev, chars = 0) => out.push({ ev, chars });
  const start: Ev[] = [];
  let startChars = 0;
  if (r() < 0.2) {
    // A proxy's message_start carrying a text block whole.
    const t = text(r, 400_000, 'p');
    start.push({ type: 'text', text: t });
    startChars += t.length;
  }
  add(
    {
      type: 'message_start',
      message: { id: 'msg', model: 'm', role: 'assistant', content: start, usage: { input_tokens: 1 } },
    },
    startChars,
  );
  const blocks = 1 + Math.floor(r() * 5);
  for (let index = 0; index < blocks; index++) {
    const pick = r();
    if (pick < 0.5) {
      const whole = r() < 0.2;
      const t = text(r, 600_000, 'a');
      add(
        {
          type: 'content_block_start',
          index,
          content_block: { type: 'text', text: whole ? t : '', citations: [] },
        },
        whole ? t.length : 0,
      );
      if (!whole)
        for (const p of pieces(r, t))
          add({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: p } }, p.length);
      const nCitations = Math.floor(r() * 3);
      for (let c = 0; c < nCitations; c++) {
        const quote = text(r, 300_000, 'q');
        const title = text(r, 100_000, 't');
        add(
          {
            type: 'content_block_delta',
            index,
            delta: {
              type: 'citations_delta',
              citation: {
                type: 'char_location',
                cited_text: quote,
                document_title: title,
                document_index: 0,
              },
            },
          },
          quote.length + title.length,
        );
      }
    } else if (pick < 0.8) {
      const input = { q: text(r, 600_000, 'f') };
      const json = JSON.stringify(input);
      if (r() < 0.3) {
        // Sent whole (a proxy's; the API sends {} and then the pieces).
        add(
          {
            type: 'content_block_start',
            index,
            content_block: { type: 'tool_use', id: `t${index}`, name: 'f', input },
          },
          json.length,
        );
      } else {
        add({
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id: `t${index}`, name: 'f', input: {} },
        });
        for (const p of pieces(r, json))
          add(
            { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: p } },
            p.length,
          );
      }
    } else {
      const t = text(r, 600_000, 's');
      add({
        type: 'content_block_start',
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      });
      for (const p of pieces(r, t))
        add({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: p } });
    }
    add({ type: 'content_block_stop', index });
  }
  add({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: {} });
  add({ type: 'message_stop' });
  return out;
}

/** The stream as sent (cut at a random event, or whole) and the output characters it delivered. */
function run(seed: number): { events: Ev[]; expected: number } {
  const all = makeStream(seed);
  const r = seededRandom(seed * 7919 + 1);
  const sent = r() < 0.4 ? all.slice(0, 1 + Math.floor(r() * all.length)) : all;
  return { events: sent.map((e) => e.ev), expected: sent.reduce((n, e) => n + e.chars, 0) };
}

function summaryOf(events: Ev[], guarded: boolean): ResponseSummary {
  const acc = anthropicMessagesAdapter.newStream(undefined, guarded);
  for (const ev of events) acc.observe(ev);
  return acc.summary();
}

const SEEDS = Array.from({ length: 80 }, (_, i) => i + 1);

describe('Anthropic streams: each output character read counts once in droppedChars / the output estimate', () => {
  it('some of the random streams cross the cap, some do not', () => {
    let crossed = 0;
    for (const seed of SEEDS) if (summaryOf(run(seed).events, false).droppedChars !== undefined) crossed++;
    expect(crossed).toBeGreaterThan(SEEDS.length / 5);
    expect(crossed).toBeLessThan(SEEDS.length);
  });

  it.each(SEEDS)('seed %i: unguarded, droppedChars is the characters read past what was kept', (seed) => {
    const { events, expected } = run(seed);
    const s = summaryOf(events, false);
    expect({ seed, counted: outputChars(s) }).toEqual({ seed, counted: expected });
    const kept = outputChars({ ...s, droppedChars: undefined });
    expect(kept).toBeLessThanOrEqual(MAX_TELEMETRY_TEXT_CHARS);
    expect(s.droppedChars ?? 0).toBe(expected - kept);
  });

  it.each(SEEDS)('seed %i: guarded, everything read is kept and nothing counted as dropped', (seed) => {
    const { events, expected } = run(seed);
    const s = summaryOf(events, true);
    expect(s.droppedChars).toBeUndefined();
    expect({ seed, counted: outputChars(s) }).toEqual({ seed, counted: expected });
  });
});
