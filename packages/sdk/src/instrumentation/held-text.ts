import { MAX_HELD_CHARS, STREAM_LIMIT_FILTER } from './stream-limit.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { UnwritableArguments } from './tool-arguments.ts';

/**
 * The text a redact stream keeps back from the reader until it is whole (a chat refusal, audio
 * transcript and data, reasoning run, tool call's arguments; an Anthropic tool input or thinking
 * block): delivered empty piece by piece, it waits in the rewrite's state for its end. Block
 * mode's hold (stream.ts HeldItems) was capped, redact's was not (only the audio data was): a
 * stream sending one refusal or one tool call's arguments for ever grew the application's
 * memory without bound. Now the characters kept back, every kind and choice together, count
 * against the same MAX_HELD_CHARS; past it the stream is cut (UnwritableArguments, filter
 * `stream_limit`: call-stream.ts reports an OutputBlockedError), nothing held delivered, never
 * the held text passed on unredacted. Counted on the stream's rewrite (`rw.heldChars`), so a
 * chunk with nothing held pays nothing.
 */

/** `chars` more kept back in `rw`'s stream; throws past the cap (the piece is then not kept). */
export function keepHeld(rw: StreamItemRewrite, chars: number): void {
  const total = (rw.heldChars ?? 0) + chars;
  if (total > MAX_HELD_CHARS) throw new UnwritableArguments(STREAM_LIMIT_FILTER, TOO_LONG);
  rw.heldChars = total;
}

/** `chars` kept back in `rw`'s stream were delivered (or dropped): no longer counted. */
export function releaseHeld(rw: StreamItemRewrite, chars: number): void {
  if (chars > 0) rw.heldChars = (rw.heldChars ?? 0) - chars;
}

const TOO_LONG = `stream_limit: more than ${MAX_HELD_CHARS} characters held back`;
