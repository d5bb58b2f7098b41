import { describe, expect, it } from 'vitest';
import { openaiResponsesAdapter } from '../src/instrumentation/openai-responses.ts';
import { outputChars } from '../src/instrumentation/lease.ts';
import { MAX_KEPT_TEXT_CHARS, MAX_TELEMETRY_TEXT_CHARS } from '../src/instrumentation/kept-text.ts';
import { StreamLimitError } from '../src/instrumentation/stream-limit.ts';

/**
 * An unguarded Responses stream past the telemetry's cap (MAX_TELEMETRY_TEXT_CHARS, 1 Mi) keeps a
 * prefix of its texts and counts the output characters it did not keep (`droppedChars`), which
 * the lease's output estimate adds (outputChars). A Responses stream repeats each text whole in
 * its done events (`output_text.done` / `refusal.done` / `function_call_arguments.done`,
 * `content_part.done`, `output_item.done`) and in its terminal response. Before, each repeat
 * counted the characters past the kept prefix again, and a terminal response's text was added to
 * the deltas' count: the estimate reached some 4x the text (found by the review of 72f0abab).
 * Each character read is counted once: 1.5 Mi characters sent in pieces of 64 Ki, read through
 * the adapter's accumulator as the instrumented client reads them.
 */

const PIECE = 'a'.repeat(64 * 1024);
const N = 24;
const WHOLE = PIECE.repeat(N);

type Ev = Record<string, unknown>;

const created: Ev = {
  type: 'response.created',
  response: { id: 'r', model: 'm', status: 'in_progress', output: [] },
};

/** A message item with one part of `kind`, sent in N deltas and repeated whole by its done events. */
function partEvents(kind: 'output_text' | 'refusal'): { events: Ev[]; item: Ev } {
  const field = kind === 'output_text' ? 'text' : 'refusal';
  const at = { item_id: 'msg', output_index: 0, content_index: 0 };
  const part = { type: kind, [field]: WHOLE, ...(kind === 'output_text' ? { annotations: [] } : {}) };
  const item = { type: 'message', id: 'msg', content: [part] };
  const events: Ev[] = [
    {
      type: 'response.output_item.added',
      output_index: 0,
      item: { type: 'message', id: 'msg', content: [] },
    },
    { type: 'response.content_part.added', ...at, part: { type: kind, [field]: '' } },
  ];
  const prefix = kind === 'output_text' ? 'response.output_text' : 'response.refusal';
  for (let i = 0; i < N; i++) events.push({ type: `${prefix}.delta`, ...at, delta: PIECE });
  events.push(
    { type: `${prefix}.done`, ...at, [field]: WHOLE },
    { type: 'response.content_part.done', ...at, part },
    { type: 'response.output_item.done', output_index: 0, item },
  );
  return { events, item };
}

/** A function call whose arguments come in N deltas, then whole in their done event and item. */
function callEvents(): { events: Ev[]; item: Ev } {
  const item = { type: 'function_call', id: 'fc', call_id: 'c', name: 'f', arguments: WHOLE };
  const events: Ev[] = [
    { type: 'response.output_item.added', output_index: 0, item: { ...item, arguments: '' } },
  ];
  for (let i = 0; i < N; i++)
    events.push({
      type: 'response.function_call_arguments.delta',
      item_id: 'fc',
      output_index: 0,
      delta: PIECE,
    });
  events.push(
    { type: 'response.function_call_arguments.done', item_id: 'fc', output_index: 0, arguments: WHOLE },
    { type: 'response.output_item.done', output_index: 0, item },
  );
  return { events, item };
}

const KINDS = [
  ['text', () => partEvents('output_text')],
  ['refusal', () => partEvents('refusal')],
  ['tool arguments', callEvents],
] as const;

/** The output characters an unguarded accumulator counts for `events`. */
function counted(events: Ev[]): number {
  const acc = openaiResponsesAdapter.newStream(undefined, false);
  for (const ev of events) acc.observe(ev);
  return outputChars(acc.summary());
}

describe('an unguarded Responses stream past the telemetry cap counts each character read once', () => {
  it('the stream is past the cap', () => {
    expect(WHOLE.length).toBeGreaterThan(MAX_TELEMETRY_TEXT_CHARS);
  });

  describe.each(KINDS)('%s', (_name, make) => {
    it('cut before its terminal event', () => {
      expect(counted([created, ...make().events])).toBe(WHOLE.length);
    });

    it('with its terminal response repeating it', () => {
      const { events, item } = make();
      const completed: Ev = {
        type: 'response.completed',
        response: { id: 'r', model: 'm', status: 'completed', output: [item] },
      };
      expect(counted([created, ...events, completed])).toBe(WHOLE.length);
    });

    it('with a terminal response that does not repeat it (failed, no output)', () => {
      const failed: Ev = {
        type: 'response.failed',
        response: { id: 'r', model: 'm', status: 'failed', output: [] },
      };
      expect(counted([created, ...make().events, failed])).toBe(WHOLE.length);
    });
  });

  it('a text under the cap, then arguments past it: each counted once, with and without the terminal response', () => {
    const at = { item_id: 'm2', output_index: 1, content_index: 0 };
    const part = { type: 'output_text', text: 'hello', annotations: [] };
    const message = { type: 'message', id: 'm2', content: [part] };
    const text: Ev[] = [
      { type: 'response.output_item.added', output_index: 1, item: { ...message, content: [] } },
      { type: 'response.content_part.added', ...at, part: { ...part, text: '' } },
      { type: 'response.output_text.delta', ...at, delta: 'hello' },
      { type: 'response.output_text.done', ...at, text: 'hello' },
      { type: 'response.output_item.done', output_index: 1, item: message },
    ];
    const call = callEvents();
    const completed: Ev = {
      type: 'response.completed',
      response: { id: 'r', model: 'm', status: 'completed', output: [call.item, message] },
    };
    expect(counted([created, ...call.events, ...text])).toBe(WHOLE.length + 5);
    expect(counted([created, ...call.events, ...text, completed])).toBe(WHOLE.length + 5);
  });
});

/**
 * A stream's terminal response repeats its answer whole. readResponseObject joined its output_text
 * parts without a cap: an unguarded stream kept 1 Mi of its deltas, then a copy of the whole
 * answer of any length from its terminal event. Now the join keeps what the deltas' copy would
 * (kept-text.ts: 1 Mi unguarded, the rest counted in droppedChars; a guarded stream keeps up to
 * 32 Mi and past it is cut).
 */
describe('a terminal response of several MiB', () => {
  const BIG = 'b'.repeat(3 * 1024 * 1024);
  /** A message of `parts` output_text parts, sent in its terminal response only (no deltas). */
  function terminalOnly(parts: string[]): Ev[] {
    const item = {
      type: 'message',
      id: 'msg',
      content: parts.map((text) => ({ type: 'output_text', text, annotations: [] })),
    };
    return [
      created,
      { type: 'response.completed', response: { id: 'r', model: 'm', status: 'completed', output: [item] } },
    ];
  }
  function summary(events: Ev[], guarded: boolean) {
    const acc = openaiResponsesAdapter.newStream(undefined, guarded);
    for (const ev of events) acc.observe(ev);
    return acc.summary();
  }

  it('unguarded: 1 Mi of its text kept, the rest counted', () => {
    const s = summary(terminalOnly([BIG.slice(1), 'x']), false);
    expect(s.text.length).toBe(MAX_TELEMETRY_TEXT_CHARS);
    expect(s.text).toBe(BIG.slice(0, MAX_TELEMETRY_TEXT_CHARS));
    expect(s.droppedChars).toBe(BIG.length - MAX_TELEMETRY_TEXT_CHARS);
    expect(outputChars(s)).toBe(BIG.length);
  });

  it('unguarded, with its deltas: the terminal text in place of theirs, each character counted once', () => {
    const { events, item } = partEvents('output_text');
    const big = { ...item, content: [{ type: 'output_text', text: WHOLE + BIG, annotations: [] }] };
    const completed: Ev = {
      type: 'response.completed',
      response: { id: 'r', model: 'm', status: 'completed', output: [big] },
    };
    const s = summary([created, ...events, completed], false);
    expect(s.text.length).toBe(MAX_TELEMETRY_TEXT_CHARS);
    expect(outputChars(s)).toBe(WHOLE.length + BIG.length);
  });

  it('unguarded: a surrogate pair the cap falls in is left out whole, and counted', () => {
    const text = 'c'.repeat(MAX_TELEMETRY_TEXT_CHARS - 1) + '\u{1F600}' + 'd'.repeat(10);
    const s = summary(terminalOnly([text]), false);
    expect(s.text).toBe('c'.repeat(MAX_TELEMETRY_TEXT_CHARS - 1));
    expect(outputChars(s)).toBe(text.length);
  });

  it('guarded: kept whole, nothing counted as dropped', () => {
    const s = summary(terminalOnly([BIG, 'x']), true);
    expect(s.text).toBe(BIG + 'x');
    expect(s.droppedChars).toBeUndefined();
  });

  it('guarded, past MAX_KEPT_TEXT_CHARS: the stream is cut at its terminal event (stream_limit)', () => {
    const acc = openaiResponsesAdapter.newStream(undefined, true);
    const [first, terminal] = terminalOnly(['e'.repeat(MAX_KEPT_TEXT_CHARS), 'x']);
    acc.observe(first);
    expect(() => acc.observe(terminal)).toThrow(StreamLimitError);
  });

  it('not streamed: the complete response read as before (its output characters counted apart)', () => {
    const [, terminal] = terminalOnly([BIG]);
    const s = openaiResponsesAdapter.readResponse((terminal as { response: unknown }).response);
    expect(s.text.length).toBe(BIG.length);
  });
});
