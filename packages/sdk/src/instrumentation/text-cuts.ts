import { StreamLimitError } from './stream-limit.ts';

/**
 * Places a stream's answer changes part (a Responses output_text part, an Anthropic text block)
 * that its accumulator records, where the end check reads the parts apart as well as joined
 * (OutputTexts.cuts). One number per change, not per part: a hostile stream alternating two parts
 * with 1-character deltas recorded one per delta, bounded only by the text cap (32 Mi characters:
 * up to some 256 MiB of numbers). An answer has a few parts (Anthropic: a text block per cited
 * passage, so some hundreds at most); past this a guarded stream is cut at the item that would
 * record one more (fail closed, as the other per-stream caps: StreamLimitError, an
 * OutputBlockedError with filter `stream_limit`), since reading the rest joined only could let
 * a finding the parts hold apart (a number run on into the next part's digits) pass the end
 * check. An unguarded stream (no end check reads them) records no more and goes on.
 */
export const MAX_TEXT_CUTS = 4096;

/** `cuts` with `at` added (a new array for the first); past MAX_TEXT_CUTS see above. */
export function addCut(cuts: number[] | undefined, at: number, guarded: boolean): number[] {
  if (cuts === undefined) return [at];
  if (cuts.length < MAX_TEXT_CUTS) cuts.push(at);
  else if (guarded) throw new StreamLimitError(`stream_limit: more than ${MAX_TEXT_CUTS} text part changes`);
  return cuts;
}
