import { describe, expect, it } from 'vitest';
import { openaiResponsesAdapter } from '../src/instrumentation/openai-responses.ts';

/**
 * e48f6f6's cap on a Responses stream's refusal state: past 1,024 refusal parts (a hostile
 * stream's 1-character pieces, each naming a new output_index) the pieces share one entry,
 * joined in order: read by the end check, never dropped, and the state stays at 1,025 entries.
 * The accumulator as call-stream.ts uses it; the end check reads its summary's side texts.
 */

const delta = (oi: number, d: string) => ({
  type: 'response.refusal.delta',
  output_index: oi,
  content_index: 0,
  delta: d,
});

describe('Responses stream: refusal parts past 1,024 share one entry, read in order', () => {
  it('3,000 parts: 1,024 kept apart, the rest joined, every piece read', () => {
    const acc = openaiResponsesAdapter.newStream({});
    const pieces: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const p = String.fromCharCode(97 + (i % 26));
      pieces.push(p);
      expect(acc.observe(delta(i, p))).toBe('');
    }
    // A refusal's pieces are held to the end check (not the chunk checks' text).
    expect(acc.unchecked).toBe(true);
    const side = acc.summary().side ?? [];
    expect(side).toHaveLength(1025);
    expect(side.slice(0, 1024)).toEqual(pieces.slice(0, 1024));
    expect(side[1024]).toBe(pieces.slice(1024).join(''));
  });

  it('a tracked part keeps its own entry past the cap: its later pieces and its done text', () => {
    const acc = openaiResponsesAdapter.newStream({});
    for (let i = 0; i < 1024; i++) acc.observe(delta(i, 'r'));
    acc.observe(delta(2000, 'jane.doe@'));
    acc.observe(delta(5, 'more'));
    acc.observe(delta(2001, 'example.com'));
    acc.observe({ type: 'response.refusal.done', output_index: 7, content_index: 0, refusal: 'whole' });
    const side = acc.summary().side ?? [];
    expect(side).toHaveLength(1025);
    expect(side[5]).toBe('rmore');
    expect(side[7]).toBe('whole');
    // Untracked parts' pieces, joined as they came: an address across them is read whole.
    expect(side[1024]).toBe('jane.doe@example.com');
  });
});
