import { findSensitive, redact, seededRandom } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { PiiStreamRedaction } from '../src/guards/pii-stream-redact.ts';
import { placeAnnotations, StreamOffsets } from '../src/instrumentation/stream-offsets.ts';

/**
 * A redact stream's annotation offsets (StreamOffsets) with piiGuard's own stream rewrite: an
 * annotation outside every change is kept and selects the text it selected. Each chunk's region
 * was what differs between its text as sent and as delivered (common prefix and suffix off), so
 * a chunk holding the end of one address, ', ' and the start of the next (text the rewriter
 * held and released unchanged between two changes) had its ', ' annotations removed. Now the
 * rewriter says where it changed the chunk. Chunks are released as stream.ts releases them
 * (push's hold), each delivered through next().
 */

const WORDS = ['see ', 'jane.doe@example.com', ' and ', 'x ', 'bob@ex.org', ', ', 'hello world '];

function stream(rnd: () => number) {
  const int = (n: number) => Math.floor(rnd() * n);
  let text = '';
  for (let i = 3 + int(12); i > 0; i--) text += WORDS[int(WORDS.length)];
  const r = new PiiStreamRedaction({ piiMaxChars: 65536 }, 65536, 256, 32);
  const offsets = new StreamOffsets();
  const queue: Array<[string, number]> = [];
  let total = 0;
  let out = '';
  const deliver = (c: string) => {
    const o = r.next(c);
    offsets.add(c, o, o !== c ? r.changes : undefined);
    out += o;
  };
  for (let i = 0; i < text.length;) {
    const c = text.slice(i, i + 1 + int(9));
    i += c.length;
    const hold = r.push(c);
    total += c.length;
    queue.push([c, total]);
    while (queue.length > 0 && queue[0]![1] <= total - hold) deliver(queue.shift()![0]);
  }
  r.end();
  while (queue.length > 0) deliver(queue.shift()![0]);
  return { text, out, offsets };
}

describe('StreamOffsets with piiGuard redact: annotations outside every change are kept', () => {
  it('2,000 random streams: every annotation outside the findings kept, in place', () => {
    const rnd = seededRandom(5);
    let checked = 0;
    for (let k = 0; k < 2000; k++) {
      const { text, out, offsets } = stream(rnd);
      expect(out).toBe(redact(text, { piiMaxChars: 65536 }).text);
      const finds = findSensitive(text, { piiMaxChars: 65536 });
      for (let s = 0; s < text.length; s++) {
        const e = Math.min(text.length, s + 1 + Math.floor(rnd() * 6));
        const a = { type: 'url_citation', url_citation: { start_index: s, end_index: e } };
        const kept = placeAnnotations([a], offsets);
        const outside = !finds.some((f) => f.start < e && f.end > s);
        if (outside) expect(kept, `${JSON.stringify(text)} [${s}, ${e})`).toHaveLength(1);
        // Whatever is kept selects what it selected.
        if (kept.length === 1)
          expect(out.slice(a.url_citation.start_index, a.url_citation.end_index)).toBe(text.slice(s, e));
        if (outside) checked++;
      }
    }
    expect(checked).toBeGreaterThan(50_000);
  });

  it('changes that do not account for the delivered text are not used (the common prefix and suffix are)', () => {
    const o = new StreamOffsets();
    o.add('ab, cd', 'X, Y', [0, 2, 1, 4, 6, 5]); // lengths add to 8, not 4
    expect(placeAnnotations([{ type: 'url_citation', start_index: 2, end_index: 4 }], o)).toHaveLength(0);
    const p = new StreamOffsets();
    p.add('ab, cd', 'X, Y', [0, 2, 1, 4, 6, 1]);
    const a = { type: 'url_citation', start_index: 2, end_index: 4 };
    expect(placeAnnotations([a], p)).toHaveLength(1);
    expect([a.start_index, a.end_index]).toEqual([1, 3]);
  });
});
