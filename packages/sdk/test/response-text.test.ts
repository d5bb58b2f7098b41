import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { responseText, withResponseText } from '../src/instrumentation/response-text.ts';
import { valueText } from '../src/instrumentation/tool-arguments.ts';

/**
 * response-text.ts's write-back of any rewrite of an Anthropic answer's text blocks: the kept
 * blocks joined are exactly the rewrite (less a blank remainder when nothing but blanks is
 * left), no block written is empty or blank (the API refuses both when the answer is resent),
 * and the blocks that are not text are kept, in order; an unchanged answer is left as it came;
 * a block keeps its citations only when the rewrite left its text. A text block whose text is not
 * a string (a server's, not the API's shape) is text too, read as its JSON text (valueText,
 * 9c4db22): left as sent when the rewrite leaves its piece, else written as a string.
 */

const piece = fc.string({ unit: fc.constantFrom('a', 'b', '@', ' ', '\n', '.'), maxLength: 8 });
const block = fc.oneof(
  { weight: 4, arbitrary: piece.map((text) => ({ type: 'text', text, citations: [{ cited_text: text }] })) },
  fc.constant({ type: 'tool_use', id: 't', name: 'x', input: {} }),
  fc.constant({ type: 'text', text: 7 }),
);

describe('withResponseText', () => {
  it('any rewrite: exact text, no empty or blank block, other blocks kept', () => {
    fc.assert(
      fc.property(
        fc.array(block, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        piece,
        (blocks, ops, insert) => {
          const content = blocks as Array<Record<string, unknown>>;
          const old = responseText(content);
          // A rewrite: some ranges of the old text replaced by `insert` (or removed).
          let text = old;
          for (const at of ops) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + insert + text.slice(i + ((at >> 3) % 6));
          }
          const out = withResponseText(content, text) as Array<Record<string, unknown>>;
          // Unchanged: the model's blocks as they came, empty ones included.
          if (text === old) {
            expect(out).toBe(content);
            return;
          }
          const isText = (b: Record<string, unknown>): boolean => b.type === 'text' && b.text != null;
          const read = (b: Record<string, unknown> | undefined): string => valueText(b?.text) ?? '';
          const kept = out.filter(isText);
          const joined = kept.map(read).join('');
          if (kept.length > 0 || text.trim() !== '') expect(joined).toBe(text);
          for (const b of kept) expect(read(b).trim()).not.toBe('');
          // Citations only on a block whose own text the rewrite left (a blank moved in aside):
          // a rewritten block's citations quote what the guard may have removed.
          for (const b of kept) {
            if (b.citations === undefined) continue;
            const from = content.find((c) => c.citations === b.citations);
            expect(read(b).trim()).toBe(read(from).trim());
          }
          const others = (list: Array<Record<string, unknown>>) => list.filter((b) => !isText(b));
          expect(others(out)).toEqual(others(content));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('withResponseText: an answer with no text block', () => {
  it("the guard's text goes after the answer's thinking blocks, before its tool_use", () => {
    // With extended thinking the API wants a resent assistant turn to start with its thinking
    // (a text block before it is a 400), and an answer's text comes after its thinking.
    const thinking = { type: 'thinking', thinking: 'plan', signature: 's' };
    const redacted = { type: 'redacted_thinking', data: 'd' };
    const tool = { type: 'tool_use', id: 't', name: 'x', input: {} };
    expect(withResponseText([thinking, redacted, tool], 'Note.')).toEqual([
      thinking,
      redacted,
      { type: 'text', text: 'Note.' },
      tool,
    ]);
    expect(withResponseText([tool], 'Note.')).toEqual([{ type: 'text', text: 'Note.' }, tool]);
    expect(withResponseText([thinking], 'Note.')).toEqual([thinking, { type: 'text', text: 'Note.' }]);
  });
});
