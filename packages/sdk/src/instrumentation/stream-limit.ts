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
