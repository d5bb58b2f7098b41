import { describe, expect, it } from 'vitest';
import { MAX_HELD_AUDIO_CHARS, rewriteAudioPiece } from '../src/instrumentation/chat-audio.ts';
import type { StreamItemRewrite } from '../src/instrumentation/stream-rewriter.ts';
import { UnwritableArguments } from '../src/instrumentation/tool-arguments.ts';

/**
 * The redact hold of a stream's audio (chat-audio.ts) is capped per stream, as its doc says,
 * not per choice: with the count kept per choice, a hostile server spreading audio over its
 * choices (n up to MAX_AUDIO_CHOICES, 1024) had the application hold 1024 x 32 Mi base64
 * characters before any cut. Driven through rewriteAudioPiece directly (the cap is too large to
 * stream through the fake server in a test).
 */

const rewrite = (): StreamItemRewrite => ({ next: (t) => t, whole: (t) => t, offsets: {} });
const PIECE = 'A'.repeat(1024 * 1024);

function piece(rw: StreamItemRewrite, index: number): void {
  const d = { audio: { data: PIECE } };
  rewriteAudioPiece({ index, delta: d, finish_reason: null }, d, rw);
}

describe('a redact stream’s audio hold, over several choices', () => {
  it('cuts the stream once its choices together hold more than the cap', () => {
    const rw = rewrite();
    const pieces = MAX_HELD_AUDIO_CHARS / PIECE.length;
    // Half the cap in each of two choices: the whole cap, held.
    for (let i = 0; i < pieces; i++) piece(rw, i % 2);
    let err: unknown;
    try {
      piece(rw, 2);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnwritableArguments);
    expect((err as UnwritableArguments).filter).toBe('audio');
  });

  it('a choice delivered at its finish gives its share back', () => {
    const rw = rewrite();
    const pieces = MAX_HELD_AUDIO_CHARS / PIECE.length;
    for (let i = 0; i < pieces; i++) piece(rw, 0);
    const last = { index: 0, delta: {} as Record<string, unknown>, finish_reason: 'stop' };
    rewriteAudioPiece(last, last.delta, rw);
    expect((last.delta.audio as { data: string }).data.length).toBe(MAX_HELD_AUDIO_CHARS);
    // The hold is empty again: another choice may hold up to the cap.
    for (let i = 0; i < pieces; i++) piece(rw, 1);
  });
});
