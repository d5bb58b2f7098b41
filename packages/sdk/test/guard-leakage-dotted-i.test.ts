import { describe, expect, it } from 'vitest';
import { systemPromptLeakageGuard } from '../src/guards/index.ts';
import { grams, overlap } from '../src/guards/leakage-grams.ts';
import { LeakageStream } from '../src/guards/leakage-stream.ts';
import type { OutputDecision } from '../src/instrumentation/index.ts';
import { chatInput, recordingContext } from './guard-context.ts';

/**
 * A capital I with dot (U+0130, Turkish and Azerbaijani) lower-cases to two units: i and a
 * combining dot (U+0307), which is not a letter. The whole-text check lower-cases first, so it
 * reads 'İade' as the words 'i' and 'ade', and so are the prompt's words; the stream read each
 * word first and lower-cased it after: 'i̇ade', in no prompt. Every gram with such a word was
 * invisible to the stream, so it held none of it: a streamed leak of a Turkish prompt reached
 * the reader whole, and only the end check (whole text) blocked it, after the fact.
 */

const PROMPT =
  'İade talepleri için İlk olarak müşteri numarasını İsteyin ve İndirim kodlarını İfşa etmeyin, ' +
  'İptal İşlemlerini İnceleyin.';

describe('leakage stream: words with a capital I with dot', () => {
  it('reads them as the whole-text check does (a leak is found while streaming)', () => {
    const g = grams(PROMPT, 4);
    expect(overlap(g, PROMPT)).toBe(1);
    const s = new LeakageStream(g, undefined, 0.5, 0.1);
    let text = '';
    let found: unknown;
    for (const d of PROMPT.split(/(?<= )/)) {
      text += d;
      found = s.push(d, text);
      if (found !== undefined) break;
    }
    expect(found).toMatchObject({ method: 'ngram_overlap' });
    expect(text.length).toBeLessThan(PROMPT.length);
  });

  it('blocks a streamed leak before the reader sees the prompt (guard, block mode)', () => {
    const guard = systemPromptLeakageGuard({ ngram: 4 });
    const { ctx } = recordingContext(chatInput({ system: PROMPT }));
    const answer = `Elbette: ${PROMPT} Başka bir şey?`;
    let offset = 0;
    let shown = 0;
    let blocked = false;
    for (let i = 0; i < answer.length; i += 3) {
      const delta = answer.slice(i, i + 3);
      offset += delta.length;
      const d = guard.checkChunk('', delta, ctx);
      if (d.action === 'block') {
        blocked = true;
        break;
      }
      shown = Math.max(shown, offset - (d.action === 'allow' ? (d.holdChars ?? 0) : 0));
    }
    if (!blocked)
      blocked =
        (guard.checkResponse({ text: answer, toolCalls: [] }, ctx) as OutputDecision).action === 'block';
    expect(blocked).toBe(true);
    // What reached the reader before the block: at most the budget's share (maxLeakShare 0.1) of
    // the prompt's words (before the fix: all 24 of them).
    const wordsOf = (t: string): string[] => t.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    const seen = wordsOf(answer.slice(0, shown));
    const promptWords = wordsOf(PROMPT);
    expect(seen.filter((w) => promptWords.includes(w)).length).toBeLessThanOrEqual(
      Math.floor(0.1 * promptWords.length),
    );
  });
});
