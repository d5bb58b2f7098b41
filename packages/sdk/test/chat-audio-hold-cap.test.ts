import { describe, expect, it } from 'vitest';
import { MAX_HELD_AUDIO_CHARS, rewriteAudioPiece } from '../src/instrumentation/chat-audio.ts';
import type { StreamItemRewrite } from '../src/instrumentation/stream-rewriter.ts';
import { UnwritableArguments } from '../src/instrumentation/tool-arguments.ts';

/**
 * A redact stream keeps a choice's audio data back to its finish chunk (chat-audio.ts): the
 * hold is capped, and past the cap the stream is cut (UnwritableArguments, filter `audio`, which
 * the stream reports as an OutputBlockedError), never the held audio dropped silently or the
 * rest delivered unchecked. Driven through rewriteAudioPiece directly: the cap (32 Mi base64
 * characters) is too large to stream through the fake server in a test.
 */

/** A rewrite that leaves the transcript as it is (the cap does not depend on it). */
function rewrite(): StreamItemRewrite {
  return { next: (t) => t, whole: (t) => t, offsets: {} };
}

const PIECE = 'A'.repeat(1024 * 1024);

describe('a redact stream’s audio hold', () => {
  it('keeps pieces up to the cap and cuts the stream past it, delivering none of them', () => {
    const rw = rewrite();
    const pieces = MAX_HELD_AUDIO_CHARS / PIECE.length;
    for (let i = 0; i < pieces; i++) {
      const d = { audio: { data: PIECE } };
      rewriteAudioPiece({ index: 0, delta: d, finish_reason: null }, d, rw);
      expect(d.audio.data).toBe('');
    }
    const d = { audio: { data: 'AAAA' } };
    let err: unknown;
    try {
      rewriteAudioPiece({ index: 0, delta: d, finish_reason: null }, d, rw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnwritableArguments);
    expect((err as UnwritableArguments).filter).toBe('audio');
  });

  it('under the cap, the finish chunk carries the audio whole', () => {
    const rw = rewrite();
    const d1 = { audio: { transcript: 'hello ', data: 'AAEC' } };
    rewriteAudioPiece({ index: 0, delta: d1, finish_reason: null }, d1, rw);
    const d2 = { audio: { transcript: 'there', data: 'AwQ=' } };
    rewriteAudioPiece({ index: 0, delta: d2, finish_reason: null }, d2, rw);
    const last = { index: 0, delta: {} as Record<string, unknown>, finish_reason: 'stop' };
    rewriteAudioPiece(last, last.delta, rw);
    expect(last.delta.audio).toEqual({ transcript: 'hello there', data: 'AAECAwQ=' });
  });
});
