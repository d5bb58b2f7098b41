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
 * Characters of an unguarded stream's texts its accumulator keeps (no output guard: nothing reads
 * them but the telemetry, which needs a bounded prefix: the captured output's preview is at most
 * `maxContentChars`, 500 by default, redacted over a window of that plus 1,024; the lease's
 * output estimate reads counts, below): 1 Mi. Such a stream is never cut (the application asked
 * for no guard); past this its copy stops growing: the piece that crosses it is kept up to it,
 * later pieces not at all, and what was not kept is counted (`dropped`). Before, the copy grew
 * with the stream, as a guarded one's did before MAX_KEPT_TEXT_CHARS. A stream under it has the
 * same summary as before, so the same telemetry (test/stream-telemetry-cap.test.ts).
 */
export const MAX_TELEMETRY_TEXT_CHARS = 1024 * 1024;

/**
 * The `error_type` of `llmsec.telemetry.errors{component="instrumentation"}` counted once for
 * each call whose unguarded stream ran past MAX_TELEMETRY_TEXT_CHARS (call.ts): the marker that
 * its telemetry (captured output, the lease's output estimate) read a prefix and counts.
 */
export const STREAM_TEXT_TRUNCATED = 'stream_text_truncated';

/**
 * One stream's count of the characters its accumulator keeps. Every store of text in an
 * accumulator takes what it appends through `keep` / `take`; a done event's whole text in place
 * of pieces gives theirs back first (`release`, kept-map.ts). A guarded stream keeps everything,
 * and past MAX_KEPT_TEXT_CHARS is cut. An unguarded stream (no output guard: nothing reads the text but the telemetry) is
 * never cut: past MAX_TELEMETRY_TEXT_CHARS its stores keep no more (`truncated`), and the
 * characters of output texts read and not kept are counted in `dropped` (the summary's
 * `droppedChars`: the lease's output estimate adds them, and the call counts the truncation).
 */
export class KeptText {
  private readonly guarded: boolean;
  private readonly cap: number;
  chars = 0;
  /** Unguarded, past its cap: characters of output texts (not reasoning) read and not kept. */
  dropped = 0;
  /** Unguarded: something read was not kept. */
  truncated = false;

  constructor(guarded: boolean) {
    this.guarded = guarded;
    this.cap = guarded ? MAX_KEPT_TEXT_CHARS : MAX_TELEMETRY_TEXT_CHARS;
  }

  /** `n` more characters kept (negative: fewer, a text replaced by a shorter one). */
  add(n: number): void {
    const total = (this.chars += n);
    if (total > MAX_KEPT_TEXT_CHARS && this.guarded) throw keptTooLong();
  }

  /**
   * How many of `n` new characters a store keeps: all of them under the cap (one add and one
   * compare, the common path); past it a guarded stream is cut, an unguarded one keeps up to the
   * cap. `output` false: reasoning, which the lease's estimate does not count.
   */
  take(n: number, output = true): number {
    const total = this.chars + n;
    if (total <= this.cap) {
      this.chars = total;
      return n;
    }
    if (this.guarded) throw keptTooLong();
    const k = Math.max(0, this.cap - this.chars);
    this.chars += k;
    if (output) this.dropped += n - k;
    this.truncated = true;
    return k;
  }

  /** `piece`, or the part of it an unguarded stream past its cap keeps (take). */
  keep(piece: string, output = true): string {
    const n = piece.length;
    const k = this.take(n, output);
    if (k === n) return piece;
    const p = prefixOf(piece, k);
    // A surrogate pair's high half left out: not kept, so counted as not kept (a store that
    // gives its text back, release, then gives back what it holds and what it did not keep).
    if (p.length < k) {
      this.chars -= k - p.length;
      if (output) this.dropped += k - p.length;
    }
    return p;
  }

  /**
   * `texts` joined by `sep`, as a store of them keeps them (take): under the cap all of them, in
   * one join; an unguarded stream past it keeps a prefix (the text that crosses it cut, the rest
   * left out and counted), a guarded one is cut. `sep` (a complete chat answer's line break
   * between choices) is not output text: not counted.
   */
  join(texts: readonly string[], sep = ''): string {
    let n = 0;
    for (const t of texts) n += t.length;
    const k = this.take(n);
    if (k === n) return texts.join(sep);
    const kept: string[] = [];
    let room = k;
    for (let i = 0; i < texts.length && room > 0; i++) {
      const t = texts[i] as string;
      const p = t.length <= room ? t : prefixOf(t, room);
      kept.push(p);
      // A surrogate pair's high half left out: not kept, so counted as not kept (keep).
      if (p.length < t.length && p.length < room) {
        this.chars -= room - p.length;
        this.dropped += room - p.length;
      }
      room -= t.length;
    }
    return kept.join(sep);
  }

  /**
   * `n` characters read and not kept, without trying: a store whose text stopped short keeps no
   * later piece, so its text stays a prefix of what was read (kept-map.ts). Unguarded only.
   */
  drop(n: number, output = true): void {
    if (output) this.dropped += n;
    this.truncated = true;
  }

  /**
   * A store's text given back (a done event's whole text replaces it): its `chars` kept and its
   * `dropped` characters not kept no longer count, so the whole that replaces them counts each
   * character once.
   */
  release(chars: number, dropped: number): void {
    this.chars -= chars;
    this.dropped -= dropped;
  }

  /**
   * The texts `list` holds from index `from` on, added since it was that long; returns its
   * length. An unguarded stream past its cap keeps of them what fits: the last one cut, the rest
   * taken out of `list`.
   */
  addFrom(list: string[] | undefined, from: number): number {
    if (list === undefined) return 0;
    let n = 0;
    for (let i = from; i < list.length; i++) n += (list[i] as string).length;
    if (n === 0) return list.length;
    if (this.guarded || this.chars + n <= this.cap) {
      this.add(n);
      return list.length;
    }
    let room = this.take(n);
    let i = from;
    for (; i < list.length && room > 0; i++) {
      const t = list[i] as string;
      if (t.length > room) {
        const p = prefixOf(t, room);
        // A surrogate pair's high half left out: not kept, so counted as not kept (keep, join).
        // Before, that character was neither kept nor counted: droppedChars one short.
        if (p.length < room) {
          this.chars -= room - p.length;
          this.dropped += room - p.length;
        }
        list[i] = p;
      }
      room -= t.length;
    }
    list.length = i;
    return list.length;
  }
}

/** The first `k` characters of `s`, a surrogate pair never split (its high half left out). */
function prefixOf(s: string, k: number): string {
  const end = k > 0 && (s.charCodeAt(k - 1) & 0xfc00) === 0xd800 ? k - 1 : k;
  return s.slice(0, end);
}

function keptTooLong(): StreamLimitError {
  return new StreamLimitError(`stream_limit: more than ${MAX_KEPT_TEXT_CHARS} characters of text read`);
}
