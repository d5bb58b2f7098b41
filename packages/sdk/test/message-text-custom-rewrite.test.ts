import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messageText, withMessageText } from '../src/instrumentation/message-text.ts';
import { splitByChars } from '../src/instrumentation/slot-chars.ts';

/**
 * The write-back of a guard's text into a message's parts (message-text.ts, slot-chars.ts,
 * slot-lines.ts) under any rewrite a custom guard may make, not only redact()'s: text
 * inserted, deleted, repeated, moved, or replaced by unrelated text, over hostile layouts
 * (runs of text parts of repeated characters, empty parts, images between parts, tool results
 * and search results with their own runs, parts with cache_control). Whatever the rewrite:
 * - nothing the guard removed is sent: every '#' of the old text is gone from the rewrite, and
 *   no '#' is anywhere in the message sent (no field, no part);
 * - what is sent reads back as the guard's text: exactly, for a run of text parts alone; up to
 *   newlines (separators of parts that were removed or emptied) otherwise;
 * - the blocks without text (images, tool results' ids) are kept, in order, and each text part
 *   that is kept keeps its other fields (cache_control, its own marker) and its place.
 */

type Block = Record<string, unknown>;

const chars = fc.string({ unit: fc.constantFrom('a', 'b', '#', ' ', '\n'), maxLength: 10 });

let mark = 0;
const textPart = (text: string, cached: boolean): Block =>
  cached
    ? { type: 'text', text, m: mark++, cache_control: { type: 'ephemeral' } }
    : { type: 'text', text, m: mark++ };

const block: fc.Arbitrary<Spec> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(chars, fc.boolean()).map(([t, c]) => ['text', t, c] as const) },
  { weight: 1, arbitrary: fc.constant(['image'] as const) },
  {
    weight: 1,
    arbitrary: fc.array(fc.tuple(chars, fc.boolean()), { maxLength: 4 }).map((ts) => ['tool', ts] as const),
  },
  { weight: 1, arbitrary: chars.map((t) => ['toolString', t] as const) },
  { weight: 1, arbitrary: fc.array(chars, { maxLength: 3 }).map((ts) => ['search', ts] as const) },
);

type Spec =
  | readonly ['text', string, boolean]
  | readonly ['image']
  | readonly ['tool', Array<[string, boolean]>]
  | readonly ['toolString', string]
  | readonly ['search', string[]];

function build(specs: readonly Spec[]): Block[] {
  return specs.map((s): Block => {
    switch (s[0]) {
      case 'text':
        return textPart(s[1], s[2]);
      case 'image':
        return { type: 'image', source: { type: 'base64', data: 'img' }, m: mark++ };
      case 'tool':
        return {
          type: 'tool_result',
          tool_use_id: `toolu_${mark++}`,
          // An image between the tool's text blocks: the runs either side are read apart.
          content: s[1].flatMap(([t, img], i) =>
            img && i > 0
              ? [{ type: 'image', source: { data: 'i' } }, textPart(t, false)]
              : [textPart(t, false)],
          ),
        };
      case 'toolString':
        return { type: 'tool_result', tool_use_id: `toolu_${mark++}`, content: s[1] };
      case 'search':
        return {
          type: 'tool_result',
          tool_use_id: `toolu_${mark++}`,
          content: [
            { type: 'search_result', source: 's', title: 't', content: s[1].map((t) => textPart(t, false)) },
          ],
        };
    }
  });
}

/** A custom guard's rewrite of the text it read: edits anywhere, then every '#' replaced (or the text replaced outright). */
const rewrite: fc.Arbitrary<Rewrite> = fc.record({
  edits: fc.array(
    fc.record({
      at: fc.nat(),
      del: fc.nat({ max: 6 }),
      ins: fc.string({ unit: fc.constantFrom('a', 'b', 'X', ' ', '\n', '['), maxLength: 6 }),
      copy: fc.boolean(),
    }),
    { maxLength: 5 },
  ),
  hash: fc.constantFrom('', 'X', '[R]', 'a', '\n', 'ab'),
  unrelated: fc.option(fc.string({ unit: fc.constantFrom('a', 'X', '\n'), maxLength: 20 }), { freq: 8 }),
});

interface Rewrite {
  edits: Array<{ at: number; del: number; ins: string; copy: boolean }>;
  hash: string;
  unrelated: string | null;
}

function apply(old: string, r: Rewrite): string {
  if (r.unrelated !== null) return r.unrelated;
  let t = old;
  for (const e of r.edits) {
    const at = t.length === 0 ? 0 : e.at % (t.length + 1);
    // copy: the inserted text is a piece of the text itself (repeated text: ambiguous cuts).
    const ins = e.copy ? t.slice(at, at + e.ins.length + 3) : e.ins;
    t = t.slice(0, at) + ins + t.slice(at + e.del);
  }
  return t.replaceAll('#', r.hash);
}

/** The text parts of a content list, nested ones too, in order. */
function textParts(content: unknown): Block[] {
  const out: Block[] = [];
  const walk = (v: unknown): void => {
    if (!Array.isArray(v)) return;
    for (const b of v as Block[]) {
      if (typeof b?.text === 'string') out.push(b);
      walk(b?.content);
    }
  };
  walk(content);
  return out;
}

/** The content with text parts left out and string slots blanked: what must be kept. */
function skeleton(content: unknown): string {
  return JSON.stringify(content, (k, v: unknown) =>
    k === 'content' && typeof v === 'string'
      ? ''
      : Array.isArray(v)
        ? v.filter((b) => typeof (b as Block | null)?.text !== 'string')
        : v,
  );
}

describe('write-back of any custom rewrite', () => {
  it('property: nothing removed is sent, the text sent is the guard’s, non-text blocks and kept parts’ fields survive (3,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(block, { minLength: 1, maxLength: 8 }), rewrite, (specs, r) => {
        // A message with no text slot at all gets the text as its content (documented; its
        // images go with it): not a write-back into parts, left out here.
        fc.pre(
          specs.some(
            (s) => s[0] === 'text' || s[0] === 'toolString' || (s[0] !== 'image' && s[1].length > 0),
          ),
        );
        const content = build(specs);
        const message = { role: 'user', content };
        const before = JSON.stringify(message);
        const old = messageText(message);
        const edited = apply(old, r);
        const next = withMessageText(message, edited) as { role: string; content: unknown };
        // The original is untouched.
        expect(JSON.stringify(message)).toBe(before);
        const sent = messageText(next);
        expect(JSON.stringify(next)).not.toContain('#');
        const textOnly = specs.every((s) => s[0] === 'text');
        if (textOnly) expect(sent).toBe(edited);
        else expect(sent.replaceAll('\n', '')).toBe(edited.replaceAll('\n', ''));
        expect(skeleton(next.content)).toBe(skeleton(content));
        // Each text part sent is an original one, in its order, with its fields.
        const originals = new Map(textParts(content).map((p) => [p.m, p]));
        let lastMark = -1;
        for (const p of textParts(next.content)) {
          const o = originals.get(p.m);
          expect(o, JSON.stringify(p)).toBeDefined();
          expect({ ...p, text: '' }).toEqual({ ...o, text: '' });
          expect(p.m as number).toBeGreaterThan(lastMark);
          lastMark = p.m as number;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('property: splitByChars over any slots and any text: one piece per slot, joined the text, empty only where the slot was', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '#'), maxLength: 6 }), {
          minLength: 1,
          maxLength: 10,
        }),
        rewrite,
        (slots, r) => {
          const text = apply(slots.join(''), r);
          const pieces = splitByChars(slots, text);
          expect(pieces).toHaveLength(slots.length);
          expect(pieces.map((p) => p ?? '').join('')).toBe(text);
          pieces.forEach((p, i) => {
            if (p === '') expect(slots[i] === '' || (i === 0 && text === '')).toBe(true);
          });
        },
      ),
      { numRuns: 3000 },
    );
  });
});
