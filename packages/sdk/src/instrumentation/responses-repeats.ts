import { arr, obj } from './adapter.ts';
import { KeptMap } from './kept-map.ts';
import type { KeptText } from './kept-text.ts';
import { valueText } from './tool-arguments.ts';

/**
 * A Responses stream repeats each output_text part's text in its done events
 * (`output_text.done`, `content_part.done`, `output_item.done`; the `.added` ones carry it too
 * when a server sends it whole). The checks read the deltas: before delivery the chunk checks
 * (piiGuard block), at the end the end check when no terminal response came. A part repeated
 * with text its deltas did not carry (a server that sends no deltas for it, or a repeat that
 * differs from them) was delivered unread: in block mode the done events went out before the
 * end check blocked on the terminal response, and a stream cut before that terminal event was
 * never read there at all.
 *
 * This records, per part, where its deltas lie in the stream's text: from its
 * `content_part.added` (which the API sends before the part's first delta) to its first done
 * event or the next part's start, whichever comes first; and each part whose repeat is not that text (`unread`): the accumulator then asks for
 * the stream to be held to its end check (StreamAccumulator.unchecked) and gives the end check
 * those texts. Nothing per delta (the streamed guards' per-chunk cost); a Map lookup and a
 * comparison per added / done event. A part without a `content_part.added` has no span: a
 * repeat of it with text reads as unread (held and read, never passed unread).
 */
export class ResponsesRepeats {
  /**
   * Per part (`output_index:content_index`): its start in the stream's deltas, its end once a done
   * event came (-1 before). Counted in characters read, not kept: an unguarded stream past the
   * telemetry's cap keeps a prefix of its deltas (kept-text.ts), and a part's repeat is compared
   * with what of it was kept.
   */
  private readonly spans = new Map<string, [number, number]>();
  /** Parts repeated with text their deltas did not carry, each with the last such text. */
  private unreadTexts: KeptMap | undefined;
  /** Unread texts past MAX_PARTS parts, joined. */
  private overflow = '';
  /** Characters of `overflow` read and not kept (unguarded past the cap). */
  private overflowDropped = 0;
  /** The last part started, while it may still be open. */
  private open: [number, number] | undefined;
  /** The stream's count of the texts its accumulator keeps (kept-text.ts): the unread texts count there. */
  private readonly kept: KeptText;

  constructor(kept: KeptText) {
    this.kept = kept;
  }

  /**
   * A non-delta event: records the parts it starts, and those it repeats whose text is not what
   * their deltas joined to (`text`: the stream's deltas so far as kept, `read`: their characters
   * read; the same but on an unguarded stream past its cap). True when it found such a part.
   */
  repeat(
    type: string | undefined,
    ev: Record<string, unknown> | undefined,
    text: string,
    read = text.length,
  ): boolean {
    switch (type) {
      case 'response.output_text.done':
        return this.check(ev?.output_index, ev?.content_index, valueText(ev?.text), text, read);
      case 'response.content_part.added':
      case 'response.content_part.done': {
        const p = obj(ev?.part);
        if (p?.type !== 'output_text') return false;
        if (type === 'response.content_part.added') this.start(ev?.output_index, ev?.content_index, read);
        return this.check(ev?.output_index, ev?.content_index, valueText(p.text), text, read);
      }
      case 'response.output_item.added':
      case 'response.output_item.done': {
        let found = false;
        for (const [ci, part] of arr(obj(ev?.item)?.content).entries()) {
          const p = obj(part);
          if (p?.type === 'output_text' && this.check(ev?.output_index, ci, valueText(p.text), text, read))
            found = true;
        }
        return found;
      }
      default:
        return false;
    }
  }

  /** The unread parts' texts joined in the order they came (a finding may run across two), or undefined. */
  get unread(): string | undefined {
    return this.unreadTexts === undefined
      ? undefined
      : [...this.unreadTexts.values()].join('') + this.overflow;
  }

  /** Characters of the unread texts read and not kept (unguarded past the cap): the summary's `droppedChars` share. */
  get dropped(): number {
    return (this.unreadTexts?.dropped ?? 0) + this.overflowDropped;
  }

  /**
   * A part starts at `at` (its content_part.added), ending the one before it (parts come one
   * after another); past MAX_PARTS parts (a hostile stream) not recorded.
   */
  private start(oi: unknown, ci: unknown, at: number): void {
    if (this.open !== undefined && this.open[1] < 0) this.open[1] = at;
    this.open = undefined;
    const k = partKey(oi, ci);
    if (this.spans.has(k) || this.spans.size >= MAX_PARTS) return;
    this.open = [at, -1];
    this.spans.set(k, this.open);
  }

  private check(oi: unknown, ci: unknown, repeated: string | undefined, text: string, read: number): boolean {
    if (repeated === undefined || repeated.length === 0) return false;
    const k = partKey(oi, ci);
    const span = this.spans.get(k);
    // The part's first repeat with text ends it, if the next part's start has not: its deltas all came before.
    if (span !== undefined && span[1] < 0) span[1] = read;
    if (span !== undefined && span[1] - span[0] === repeated.length && keptAs(text, span[0], repeated))
      return false;
    const unread = (this.unreadTexts ??= new KeptMap(this.kept));
    // Past the cap, appended whole (a repeat of one part may then be read twice: never dropped).
    if (unread.size < MAX_PARTS || unread.get(k) !== undefined) unread.replace(k, repeated);
    else {
      const keep = this.kept.keep(repeated);
      this.overflowDropped += repeated.length - keep.length;
      this.overflow += keep;
    }
    return true;
  }
}

/** Parts tracked per stream (an answer has a few); past this, see start() and check(). */
const MAX_PARTS = 1024;

/**
 * `repeated`, a part's whole text, is what the deltas kept from `at` on hold: all of it, or on
 * an unguarded stream past its cap (which keeps a prefix of the deltas) what of it was kept.
 */
function keptAs(text: string, at: number, repeated: string): boolean {
  if (at + repeated.length <= text.length) return text.startsWith(repeated, at);
  return at >= text.length || repeated.startsWith(text.slice(at));
}

function partKey(oi: unknown, ci: unknown): string {
  return `${typeof oi === 'number' ? oi : 0}:${typeof ci === 'number' ? ci : 0}`;
}
