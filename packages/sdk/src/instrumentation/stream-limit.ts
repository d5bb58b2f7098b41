/**
 * An accumulator's own fail-closed cut: a stream past a cap on per-part state (a chat stream
 * naming more choices than any real request has) that the accumulator cannot read correctly
 * without more state. Thrown from `observe`, so the item is never delivered (stream.ts cuts the
 * stream on a throw); call-stream.ts reports it as an output block (`output_filter_block`,
 * OutputBlockedError with filter STREAM_LIMIT_FILTER), the error the reader gets.
 */
export class StreamLimitError extends Error {
  override readonly name = 'StreamLimitError';
  /** The block reason: low-cardinality, no text of the stream. */
  readonly reason: string;

  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

/** The filter an OutputBlockedError names for a StreamLimitError. */
export const STREAM_LIMIT_FILTER = 'stream_limit';

/**
 * Choices a chat or legacy completions stream's accumulator keeps apart (text, refusal, finish
 * reason). OpenAI's n is at most 128: more is a crafted stream, each new index ~100 bytes of map
 * for a 1-character piece. Past it the stream is cut (fail closed): joining the extra choices'
 * pieces into one text would let an address split between two pieces of one choice, with
 * another's between, pass the end check (detect mode's only read), and dropping them would leave
 * delivered text unread.
 */
export const MAX_CHOICES = 1024;

export function tooManyChoices(): StreamLimitError {
  return new StreamLimitError(`stream_limit: more than ${MAX_CHOICES} choices`);
}

/**
 * Characters (held-chars.ts: strings' and keys' lengths, one a value) of the items a stream may
 * hold back from the reader at once: 32 Mi, the figure of the redact audio hold
 * (chat-audio.ts MAX_HELD_AUDIO_CHARS). A block-mode stream is held whole from its first piece
 * the chunk checks cannot read (audio, a refusal's pieces) to the end check, and items without
 * text stay held behind a guard's held tail: with no cap, a long or hostile stream was kept whole
 * in the application's memory. Past it the stream is cut (fail closed), the held items never
 * delivered.
 */
export const MAX_HELD_CHARS = 32 * 1024 * 1024;

export function heldTooLong(cap: number): StreamLimitError {
  return new StreamLimitError(`stream_limit: more than ${cap} characters held back`);
}
