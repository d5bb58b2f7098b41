import type { KeptText } from './kept-text.ts';

/**
 * A stream's texts by key (a Responses refusal part's, a tool call's arguments, a repeated
 * part's), each counted in the stream's KeptText. Pieces append to a key's text; a done event's
 * whole text replaces it, the key's characters given back first (KeptText.release), both those
 * kept and those an unguarded stream past its cap did not keep, so a text repeated whole by its
 * done events is counted once. Before (`replaced`), the whole was counted past the kept prefix:
 * on an unguarded stream past the cap each done event of a Responses text counted the characters
 * it repeats again, and the summary's `droppedChars` (the lease's output estimate) reached some
 * 4x the text.
 *
 * A key's text is a prefix of what was read for it: once a piece is not kept whole, later pieces
 * of that key are not kept at all (counted as not kept), even if a replaced text gave room back.
 * A guarded stream keeps everything (past its cap it is cut, kept-text.ts), so there nothing here
 * costs more than the Map itself and one compare.
 */
export class KeptMap {
  private readonly texts = new Map<string, string>();
  /** Per key whose text stopped short (unguarded, past the cap): the characters read and not kept. */
  private short: Map<string, number> | undefined;
  private readonly kept: KeptText;
  /** False: reasoning, which the lease's output estimate does not count (KeptText.take). */
  private readonly output: boolean;
  /** The characters of output texts read and not kept, over all keys (this map's share of KeptText.dropped). */
  dropped = 0;

  constructor(kept: KeptText, output = true) {
    this.kept = kept;
    this.output = output;
  }

  get size(): number {
    return this.texts.size;
  }

  get(key: string): string | undefined {
    return this.texts.get(key);
  }

  values(): IterableIterator<string> {
    return this.texts.values();
  }

  entries(): IterableIterator<[string, string]> {
    return this.texts.entries();
  }

  /** True when `key`'s text is a prefix of what was read for it (unguarded, past the cap). */
  isShort(key: string): boolean {
    return this.short?.has(key) === true;
  }

  /** `piece` appended to `key`'s text (`before`: that text, when the caller has read it). */
  add(key: string, piece: string, before = this.texts.get(key)): void {
    const short = this.short?.get(key);
    if (short !== undefined) {
      // Stopped short: nothing more kept, so the text stays a prefix of what was read.
      this.kept.drop(piece.length, this.output);
      this.missed(key, short, piece.length);
      return;
    }
    const keep = this.kept.keep(piece, this.output);
    if (keep.length < piece.length) this.missed(key, 0, piece.length - keep.length);
    this.texts.set(key, (before ?? '') + keep);
  }

  /** `whole` in place of `key`'s text: what the key held given back first, then `whole` kept as a new text. */
  replace(key: string, whole: string): void {
    const before = this.texts.get(key);
    if (before !== undefined) {
      const short = this.short?.get(key) ?? 0;
      this.kept.release(before.length, this.output ? short : 0);
      if (short > 0) {
        this.short!.delete(key);
        if (this.output) this.dropped -= short;
      }
    }
    const keep = this.kept.keep(whole, this.output);
    if (keep.length < whole.length) this.missed(key, 0, whole.length - keep.length);
    this.texts.set(key, keep);
  }

  /**
   * `key`'s text kept apart under `to` (a new key, appended), its count with it; `key` left empty
   * in its place, as a key whose text a done event contradicts (StreamedArguments.set).
   */
  keepApart(key: string, to: string): void {
    this.texts.set(to, this.texts.get(key) ?? '');
    this.texts.set(key, '');
    const short = this.short?.get(key);
    if (short !== undefined) {
      this.short!.delete(key);
      this.short!.set(to, short);
    }
  }

  private missed(key: string, before: number, n: number): void {
    (this.short ??= new Map()).set(key, before + n);
    if (this.output) this.dropped += n;
  }
}
