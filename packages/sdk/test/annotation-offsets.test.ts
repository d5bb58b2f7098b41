import { seededRandom } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { realignAnnotations } from '../src/instrumentation/annotation-offsets.ts';
import { placeAnnotations, StreamOffsets } from '../src/instrumentation/stream-offsets.ts';

/**
 * realignAnnotations against random rewrites (spans replaced by placeholders or removed, as a
 * redaction does): every annotation it keeps selects in the new text exactly the characters it
 * selected in the old one, and one wholly before the first change or after the last is kept.
 */

const ALPHABET = 'ab [x]';
/** Replacements: removal, or characters the texts never hold (so the change's edges are exact). */
const REPLACEMENTS = ['', 'Z', 'ZZZ'];

describe('realignAnnotations', () => {
  it('kept annotations select the same text; those outside every change are all kept (5,000 cases)', () => {
    const rnd = seededRandom(13);
    const int = (n: number) => Math.floor(rnd() * n);
    for (let k = 0; k < 5000; k++) {
      const len = 1 + int(40);
      let before = '';
      for (let i = 0; i < len; i++) before += ALPHABET[int(ALPHABET.length)];
      // Up to 3 changes at increasing places.
      const cuts = [...new Set(Array.from({ length: 2 * (1 + int(3)) }, () => int(len + 1)))].sort(
        (a, b) => a - b,
      );
      let after = '';
      let from = 0;
      const changed: Array<[number, number]> = [];
      const REPLACED: string[] = [];
      for (let i = 0; i + 1 < cuts.length; i += 2) {
        const [s, e] = [cuts[i]!, cuts[i + 1]!];
        const r = REPLACEMENTS[int(3)]!;
        REPLACED.push(r);
        after += before.slice(from, s) + r;
        changed.push([s, e]);
        from = e;
      }
      after += before.slice(from);
      const list = Array.from({ length: 4 }, () => {
        const s = int(len + 1);
        const e = s + int(len + 1 - s);
        return rnd() < 0.5
          ? { type: 'url_citation', start_index: s, end_index: e }
          : { type: 'url_citation', url_citation: { start_index: s, end_index: e } };
      });
      const spanOf = (a: Record<string, unknown>) =>
        (a.url_citation ?? a) as { start_index: number; end_index: number };
      const old = list.map((a) => ({
        ...spanOf(a),
        text: before.slice(spanOf(a).start_index, spanOf(a).end_index),
      }));
      const holder: Record<string, unknown> = { annotations: list };
      realignAnnotations(holder, before, after);
      const kept = holder.annotations as Array<Record<string, unknown>>;
      for (const a of kept) {
        const i = list.indexOf(a as never);
        const s = spanOf(a);
        expect(after.slice(s.start_index, s.end_index), `${before} -> ${after}`).toBe(old[i]!.text);
      }
      // Changes of at least one character, each replaced by Z's: the unchanged text is exactly
      // the common prefix and suffix, so an annotation outside every change is kept.
      const exact = changed.every(([s, e]) => e > s) && REPLACED.every((r) => r.length > 0);
      if (before !== after && exact) {
        const first = changed[0]![0];
        const last = changed[changed.length - 1]![1];
        for (const [i, o] of old.entries())
          if (o.end_index <= first || o.start_index >= last) expect(kept).toContain(list[i]);
      }
    }
  });

  it('unchanged text, no list, entries without offsets: left as they are', () => {
    const list = [{ type: 'file_citation', file_id: 'f' }, 'x', null];
    const holder: Record<string, unknown> = { annotations: list };
    realignAnnotations(holder, 'abc', 'abc');
    expect(holder.annotations).toBe(list);
    realignAnnotations(holder, 'abc', 'a[X]c');
    expect(holder.annotations).toBe(list);
  });

  it('streamed (StreamOffsets): chunks rewritten at random, kept annotations select the same text (5,000 cases)', () => {
    const rnd = seededRandom(31);
    const int = (n: number) => Math.floor(rnd() * n);
    let kept = 0;
    let removed = 0;
    for (let k = 0; k < 5000; k++) {
      const offsets = new StreamOffsets();
      let before = '';
      let after = '';
      for (let c = 1 + int(5); c > 0; c--) {
        let chunk = '';
        for (let i = 1 + int(8); i > 0; i--) chunk += ALPHABET[int(ALPHABET.length)];
        // A third of the chunks rewritten: a span replaced by Z's (or removed).
        let out = chunk;
        if (rnd() < 0.34) {
          const s = int(chunk.length + 1);
          const e = s + int(chunk.length + 1 - s);
          out = chunk.slice(0, s) + REPLACEMENTS[int(3)]! + chunk.slice(e);
        }
        offsets.add(chunk, out);
        before += chunk;
        after += out;
      }
      const list = Array.from({ length: 4 }, () => {
        const s = int(before.length + 3);
        const e = s + int(4);
        return { type: 'url_citation', url_citation: { start_index: s, end_index: e } };
      });
      const old = list.map((a) => before.slice(a.url_citation.start_index, a.url_citation.end_index));
      const ends = list.map((a) => a.url_citation.end_index);
      const out = placeAnnotations([...list], offsets) as typeof list;
      for (const a of out) {
        const i = list.indexOf(a);
        expect(ends[i]! <= before.length).toBe(true);
        expect(
          after.slice(a.url_citation.start_index, a.url_citation.end_index),
          `${before} -> ${after}`,
        ).toBe(old[i]);
      }
      kept += out.length;
      removed += list.length - out.length;
    }
    // Both outcomes are exercised.
    expect(kept).toBeGreaterThan(1000);
    expect(removed).toBeGreaterThan(1000);
  });
});
