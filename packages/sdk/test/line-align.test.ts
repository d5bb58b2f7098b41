import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_EDITS, alignLines, linesOf, workBudget } from '../src/instrumentation/line-align.ts';
import { messageText, withMessageText } from '../src/instrumentation/message-text.ts';

/** line-align.ts: the capped line diff behind the write-back of a rewrite that changed the line count. */

/** The length of a longest common subsequence, by the quadratic table (small inputs only). */
function lcs(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const row = [0];
    for (let j = 0; j < b.length; j++) row.push(x === b[j] ? prev[j]! + 1 : Math.max(prev[j + 1]!, row[j]!));
    prev = row;
  }
  return prev[b.length]!;
}

describe('alignLines', () => {
  it('property: the aligned pairs are equal lines, increasing in both, and as many as a longest common subsequence', () => {
    const lines = fc.array(fc.constantFrom('', 'a', 'b', 'ab', 'c'), { minLength: 1, maxLength: 14 });
    fc.assert(
      fc.property(lines, lines, (a, b) => {
        const match = alignLines(linesOf(a.join('\n')), linesOf(b.join('\n')));
        expect(match).toBeDefined();
        let last = -1;
        let pairs = 0;
        for (let i = 0; i < a.length; i++) {
          const k = match![i]!;
          if (k < 0) continue;
          expect(b[k]).toBe(a[i]);
          expect(k).toBeGreaterThan(last);
          last = k;
          pairs++;
        }
        expect(pairs).toBe(lcs(a, b));
      }),
      { numRuns: 3000 },
    );
  });

  it('past MAX_EDITS lines deleted plus inserted: undefined, and the write-back merges the range as before', () => {
    // Every line changed: MAX_EDITS / 2 deleted, as many inserted (at the cap), then one more.
    // Lines of 200 characters, so that the step budget (in proportion to the text) is not what
    // stops the diff first.
    const old = Array.from({ length: MAX_EDITS / 2 }, (_, i) => `o${i}`.padEnd(200, '.'));
    const changed = Array.from({ length: MAX_EDITS / 2 }, (_, i) => `n${i}`.padEnd(200, '.'));
    expect(alignLines(linesOf(old.join('\n')), linesOf(changed.join('\n')))).toBeDefined();
    expect(alignLines(linesOf(old.join('\n')), linesOf([...changed, 'n'].join('\n')))).toBeUndefined();
    // An image between the parts: text parts side by side are one run, joined with '' and cut
    // by slot-chars.ts; these two are joined with '\n' and cut by the line alignment.
    const image = { type: 'image_url', image_url: { url: 'u' } };
    const message = (key: readonly string[]) => ({
      role: 'user',
      content: [
        { type: 'text', text: `head\n${key.join('\n')}` },
        image,
        { type: 'text', text: 'mail a@b.co', cache_control: { type: 'ephemeral' } },
      ],
    });
    // At the cap (256 lines deleted: 255 of the key, the email's; 256 inserted): each change in
    // its part. One more deleted line is over it: one range from the first change to the last,
    // in the first part.
    const under = message([...old.slice(2), 'k']);
    const text = `head\n${changed.slice(1).join('\n')}\nmail [E]`;
    expect((withMessageText(under, text) as typeof under).content).toEqual([
      { type: 'text', text: `head\n${changed.slice(1).join('\n')}` },
      image,
      { type: 'text', text: 'mail [E]', cache_control: { type: 'ephemeral' } },
    ]);
    const over = message([...old.slice(1), 'k']);
    expect(withMessageText(over, text)).toEqual({ role: 'user', content: [{ type: 'text', text }, image] });
    expect(messageText(withMessageText(over, text))).toBe(text);
  });

  it('the step budget is in proportion to the text: a 3 KiB key and 250 one-email lines (508 lines deleted plus inserted) is past it, a key and an email are not', () => {
    // Myers' diff tries about D^2 / 2 diagonals whatever the text's size: with the fixed cap
    // (2^21 steps) this 3 KiB message took 4 ms to align (50 of them in a request: 160 ms of
    // write-back against piiGuard's 7 ms to find them).
    const key = [
      '-----BEGIN RSA PRIVATE KEY-----',
      ...Array.from({ length: 6 }, () => 'M'.repeat(64)),
      '-----END',
    ];
    const old = [...key];
    const redacted = ['[REDACTED:private_key]'];
    for (let i = 0; i < 250; i++) {
      old.push('', `u${i}@b.co`);
      redacted.push('', '[REDACTED:email]');
    }
    const a = linesOf(old.join('\n'));
    const b = linesOf(redacted.join('\n'));
    expect(workBudget(a, b)).toBeLessThan(1 << 16);
    expect(alignLines(a, b)).toBeUndefined();
    // The usual redaction (a key, an email a few lines on) is well inside it.
    const match = alignLines(
      linesOf([...key, 'see', 'u@b.co'].join('\n')),
      linesOf(['[K]', 'see', '[E]'].join('\n')),
    );
    expect(match).toBeDefined();
    expect([...match!]).toEqual([-1, -1, -1, -1, -1, -1, -1, -1, 1, -1]);
  });

  it('property: many lines edited in several parts, under the caps and past them: the parts read back as exactly the rewrite (no old text), none added', () => {
    // Lines repeat (few kinds), so which part an edit lands in may be ambiguous: the placement is
    // the other property's concern (distinct lines); this one is what is sent.
    let aligned = 0;
    let capped = 0;
    const line = fc.constantFrom('', 'a', 'b', 'mail u@b.co', 'KEYLINE');
    fc.assert(
      fc.property(
        fc.array(fc.array(line, { minLength: 1, maxLength: 120, size: 'max' }), {
          minLength: 2,
          maxLength: 5,
        }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('drop', 'redact', 'add')), {
          maxLength: 400,
          size: 'max',
        }),
        (parts, edits) => {
          const message = { role: 'user', content: parts.map((l) => ({ type: 'text', text: l.join('\n') })) };
          const lines = parts.flat();
          const out: string[] = [];
          const byLine = new Map(edits.map(([at, how]) => [at % lines.length, how]));
          lines.forEach((l, i) => {
            const how = byLine.get(i);
            if (how === undefined) out.push(l);
            else if (how === 'redact') out.push('[R]');
            else if (how === 'add') out.push(l, '[A]');
          });
          const rewrite = out.join('\n');
          // The whole text's alignment (the write-back aligns the changed range only): near enough
          // to show both ways are taken.
          const match = alignLines(linesOf(messageText(message)), linesOf(rewrite));
          if (match === undefined) capped++;
          else aligned++;
          const next = withMessageText(message, rewrite) as typeof message;
          expect(messageText(next)).toBe(rewrite);
          expect(next.content.length).toBeLessThanOrEqual(parts.length);
        },
      ),
      { numRuns: 400 },
    );
    // Both ways were taken: the line alignment, and the fallback past its caps.
    expect(aligned).toBeGreaterThan(20);
    expect(capped, `aligned ${aligned}`).toBeGreaterThan(20);
  });

  it('property: any rewrite at all (a custom guard may return anything) reads back as itself from text parts, none added', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '[', '\n'), maxLength: 10 });
    fc.assert(
      fc.property(fc.array(text, { minLength: 2, maxLength: 6 }), text, fc.nat(), (parts, noise, cut) => {
        const message = { role: 'user', content: parts.map((t) => ({ type: 'text', text: t })) };
        const old = messageText(message);
        // Noise spliced in, and the text cut short: any line count, any lines.
        const at = cut % (old.length + 1);
        const rewrite = old.slice(0, at) + noise + old.slice(at + (cut % 3));
        const next = withMessageText(message, rewrite) as typeof message;
        expect(messageText(next)).toBe(rewrite);
        expect(next.content.length).toBeLessThanOrEqual(parts.length);
      }),
      { numRuns: 3000 },
    );
  });
});
