import { StreamLimitError } from './stream-limit.ts';

/**
 * Characters of a guarded stream's texts its accumulator keeps for the end check (the answer,
 * each choice's text, refusals, transcripts, quotes, tool calls' arguments, reasoning): 32 Mi,
 * the figure of the hold's cap (stream-limit.ts MAX_HELD_CHARS), a cap of its own since this is
 * not text held back from the reader but the end check's copy of what was read. The end check
 * reads the whole stream, so its copy grew with it: a server (or a proxy) streaming for ever
 * grew the application's memory without bound, in every mode. Dropping text past a cap would let
 * the end check (detect mode's only read) pass what it never read, so a guarded stream past it
 * is cut instead (fail closed), at the item that crosses it, before that item is delivered:
 * StreamLimitError, an OutputBlockedError with filter `stream_limit` for the reader
 * (call-stream.ts). A redact stream's own copies of what it delivered (a Responses part's
 * delivered text, responses-stream-rewrite.ts; a chat reasoning's sent text, chat-reasoning.ts)
 * are rewrites of this text, so they are bounded by this cap too: the item past it is cut here,
 * before the rewrite sees it. Some 8 M tokens: far past any model's output limit.
 */
export const MAX_KEPT_TEXT_CHARS = 32 * 1024 * 1024;

/**
 * One stream's count of the characters its accumulator keeps. Every store of text in an
 * accumulator adds what it appends (or the change, when a done event's text replaces pieces);
 * past the cap a guarded stream is cut. An unguarded stream (no output guard: nothing reads the
 * text but the telemetry) is counted and never cut, as the other caps of stream-limit.ts.
 */
export class KeptText {
  private readonly guarded: boolean;
  chars = 0;

  constructor(guarded: boolean) {
    this.guarded = guarded;
  }

  /** `n` more characters kept (negative: fewer, a text replaced by a shorter one). */
  add(n: number): void {
    const total = (this.chars += n);
    if (total > MAX_KEPT_TEXT_CHARS && this.guarded) throw keptTooLong();
  }

  /** The texts `list` holds from index `from` on, added since it was that long; returns its length. */
  addFrom(list: readonly string[] | undefined, from: number): number {
    if (list === undefined) return 0;
    let n = 0;
    for (let i = from; i < list.length; i++) n += (list[i] as string).length;
    if (n > 0) this.add(n);
    return list.length;
  }
}

function keptTooLong(): StreamLimitError {
  return new StreamLimitError(`stream_limit: more than ${MAX_KEPT_TEXT_CHARS} characters of text read`);
}
