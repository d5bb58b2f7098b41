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
