import { UnkeptTexts } from './unkept-texts.ts';

/**
 * The annotation texts (titles, URLs, file names) a Responses stream read, by part (output and
 * content index) and how often. A part's `content_part.done` and its item's `output_item.done`
 * repeat the part's whole annotation list (after its `annotation.added` events, when the server
 * sends them), so a text in such a list is new only past the number of times its part already
 * carried it: two equal titles in one part (two citations of one page) are two quotes, the same
 * title in two parts one in each, and a done event repeating the list adds nothing. Before, a
 * text was told by itself, stream-wide: the second of two equal titles was taken for a repeat
 * and not read (by the end check, or by the lease's estimate past the cap).
 *
 * A text kept whole is counted by the text (the stream holds it in its quotes anyway); one not
 * kept whole by its fingerprint (unkept-texts.ts, bounded). At most MAX_QUOTED_PARTS parts are
 * told apart (a map each); a hostile stream naming more shares one count for the rest, by text
 * (the reading before: equal texts in those parts read as one).
 */
export class ReadQuotes {
  private kept: Map<string, Map<string, number>> | undefined;
  private unkept: UnkeptTexts | undefined;

  /** How many times `part` carried `text` so far. */
  count(part: string, text: string): number {
    const k = this.kept?.get(this.key(part))?.get(text) ?? 0;
    return this.unkept === undefined ? k : k + this.unkept.count(part, text);
  }

  /** One more `text` of `part` read; `whole`: the stream kept it whole. */
  add(part: string, text: string, whole: boolean): void {
    if (!whole) {
      (this.unkept ??= new UnkeptTexts()).add(part, text);
      return;
    }
    const parts = (this.kept ??= new Map());
    const key = this.key(part);
    let texts = parts.get(key);
    if (texts === undefined) parts.set(key, (texts = new Map()));
    texts.set(text, (texts.get(text) ?? 0) + 1);
  }

  /** The part's own key while there is room, else the shared one. */
  private key(part: string): string {
    const parts = this.kept;
    return parts === undefined || parts.has(part) || parts.size < MAX_QUOTED_PARTS ? part : SHARED;
  }
}

/** Parts whose quotes are counted apart per stream. */
const MAX_QUOTED_PARTS = 1024;

/** The count the parts past MAX_QUOTED_PARTS share (no real part key: those are `o:c`). */
const SHARED = '*';
