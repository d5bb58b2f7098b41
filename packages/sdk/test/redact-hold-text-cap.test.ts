import { describe, expect, it } from 'vitest';
import { MAX_HELD_LOGPROBS_CHARS } from '../src/instrumentation/held-logprobs.ts';
import { rewriteAnthropicEvent, rewriteChatChunk } from '../src/instrumentation/stream-item-rewrite.ts';
import { MAX_HELD_CHARS } from '../src/instrumentation/stream-limit.ts';
import type { StreamItemRewrite } from '../src/instrumentation/stream-rewriter.ts';
import { UnwritableArguments } from '../src/instrumentation/tool-arguments.ts';

/**
 * A redact stream keeps some texts back from the reader until they are whole (a refusal, an
 * audio transcript, a reasoning run, a tool call's arguments; an Anthropic tool input or
 * thinking block: held-text.ts). Before, only the audio data counted against a cap: a stream
 * sending one refusal (or arguments, ...) for ever grew the application's memory without bound.
 * Now everything kept back counts against MAX_HELD_CHARS per stream, and past it the stream is
 * cut (UnwritableArguments, filter `stream_limit`: an OutputBlockedError for the reader), nothing
 * held delivered. And the logprobs kept with a refusal or transcript are capped in characters,
 * not only in values: a value can be a token string of any length. Driven through the item
 * rewrites directly, as chat-audio-hold-cap.test.ts: 32 Mi characters are too many to stream
 * through the fake server in a test.
 */

function rewrite(): StreamItemRewrite {
  return { next: (t) => t, whole: (t) => t, offsets: {} };
}

const MI = 1024 * 1024;
const PIECE = 'a'.repeat(MI);
const PIECES = MAX_HELD_CHARS / MI;

function chat(delta: Record<string, unknown>, finish: string | null = null, index = 0) {
  return { choices: [{ index, delta, finish_reason: finish }] };
}

/** Each kind of text redact keeps back, as the chunk carrying one piece of it. */
const CHAT_KINDS: Record<string, (piece: string) => unknown> = {
  refusal: (p) => chat({ refusal: p }),
  transcript: (p) => chat({ audio: { transcript: p } }),
  reasoning: (p) => chat({ reasoning_content: p }),
  tool_arguments: (p) => chat({ tool_calls: [{ index: 0, function: { arguments: p } }] }),
  legacy_function_call: (p) => chat({ function_call: { arguments: p } }),
};

const ANTHROPIC_KINDS: Record<string, (piece: string) => unknown> = {
  tool_input: (p) => ({
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: p },
  }),
  thinking: (p) => ({
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'thinking_delta', thinking: p },
  }),
};

/** What feeding `item` throws (undefined: nothing). */
function thrown(feed: () => unknown): unknown {
  try {
    feed();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectCut(err: unknown): void {
  expect(err).toBeInstanceOf(UnwritableArguments);
  expect((err as UnwritableArguments).filter).toBe('stream_limit');
}

describe('a redact stream’s held text', () => {
  for (const [kind, chunk] of Object.entries(CHAT_KINDS)) {
    it(`cuts a chat stream holding more than MAX_HELD_CHARS of ${kind}`, () => {
      const rw = rewrite();
      for (let i = 0; i < PIECES; i++)
        expect(thrown(() => rewriteChatChunk(chunk(PIECE), rw))).toBe(undefined);
      expectCut(thrown(() => rewriteChatChunk(chunk('b'), rw)));
    });
  }

  for (const [kind, event] of Object.entries(ANTHROPIC_KINDS)) {
    it(`cuts an Anthropic stream holding more than MAX_HELD_CHARS of ${kind}`, () => {
      const rw = rewrite();
      for (let i = 0; i < PIECES; i++)
        expect(thrown(() => rewriteAnthropicEvent(event(PIECE), rw))).toBe(undefined);
      expectCut(thrown(() => rewriteAnthropicEvent(event('b'), rw)));
    });
  }

  it('counts every kind and choice of a stream together', () => {
    const rw = rewrite();
    // Not reasoning: a chunk with another text of its choice ends a reasoning run (sent, let go).
    const kinds = Object.entries(CHAT_KINDS)
      .filter(([k]) => k !== 'reasoning')
      .map(([, f]) => f);
    for (let i = 0; i < PIECES; i++) {
      const item = kinds[i % kinds.length]!(PIECE) as { choices: Array<{ index: number }> };
      item.choices[0]!.index = i % 3;
      rewriteChatChunk(item, rw);
    }
    expectCut(thrown(() => rewriteChatChunk(chat({ refusal: 'b' }, null, 5), rw)));
  });

  it('no longer counts a text once its finish delivered it: a long stream of short texts passes', () => {
    const rw = rewrite();
    // Three times the cap in all, never more than half of it held at once (a choice per round:
    // a finished choice's later pieces are not kept).
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < PIECES / 2; i++) {
        rewriteChatChunk(chat({ refusal: PIECE }, null, round), rw);
        rewriteChatChunk(chat({ tool_calls: [{ index: 0, function: { arguments: '1' } }] }, null, round), rw);
      }
      const last = chat({}, 'stop', round);
      expect(thrown(() => rewriteChatChunk(last, rw))).toBe(undefined);
      const delta = last.choices[0]!.delta as { refusal?: string; tool_calls?: unknown[] };
      expect(delta.refusal?.length).toBe((PIECES / 2) * MI);
      expect(delta.tool_calls).toHaveLength(1);
    }
    for (let i = 0; i < 4; i++) {
      const event = ANTHROPIC_KINDS.tool_input!;
      for (let j = 0; j < PIECES / 2; j++) rewriteAnthropicEvent(event(PIECE), rw);
      const stop = rewriteAnthropicEvent({ type: 'content_block_stop', index: 1 }, rw);
      expect(stop).toBeDefined();
    }
  });

  it('under the cap, the held pieces go out whole at the finish', () => {
    const rw = rewrite();
    rewriteChatChunk(chat({ refusal: 'I cannot ' }), rw);
    rewriteChatChunk(chat({ refusal: 'help.' }), rw);
    const last = chat({}, 'stop');
    rewriteChatChunk(last, rw);
    expect(last.choices[0]!.delta).toEqual({ refusal: 'I cannot help.' });
    expect(rw.heldChars).toBe(0);
  });
});

describe('the logprobs a redact stream keeps back', () => {
  /** A refusal piece's chunk with one logprobs entry whose token is `token`. */
  function piece(token: string) {
    return {
      choices: [
        {
          index: 0,
          delta: { refusal: 'x' },
          finish_reason: null,
          logprobs: { content: null, refusal: [{ token, logprob: 0, bytes: [], top_logprobs: [] }] },
        },
      ],
    };
  }

  it('are dropped past their character cap, however few values they are', () => {
    const rw = rewrite();
    // Eight entries (a few values) of a million characters each: past MAX_HELD_LOGPROBS_CHARS.
    const n = 8;
    for (let i = 0; i < n; i++) rewriteChatChunk(piece(PIECE), rw);
    const last = { choices: [{ index: 0, delta: {} as Record<string, unknown>, finish_reason: 'stop' }] };
    rewriteChatChunk(last, rw);
    expect(last.choices[0]!.delta.refusal).toBe('x'.repeat(n));
    // The refusal delivered, its entries not (as past the value cap).
    expect((last.choices[0] as { logprobs?: unknown }).logprobs).toBeUndefined();
    expect(n * MI).toBeGreaterThan(MAX_HELD_LOGPROBS_CHARS);
  });

  it('short ones still come back with a clean refusal', () => {
    const rw = rewrite();
    rewriteChatChunk(piece('I'), rw);
    rewriteChatChunk(piece(' cannot'), rw);
    const last = { choices: [{ index: 0, delta: {} as Record<string, unknown>, finish_reason: 'stop' }] };
    rewriteChatChunk(last, rw);
    const lp = (last.choices[0] as { logprobs?: { refusal: Array<{ token: string }> } }).logprobs;
    expect(lp?.refusal.map((e) => e.token)).toEqual(['I', ' cannot']);
  });
});
