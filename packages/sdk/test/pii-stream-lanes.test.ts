import { describe, expect, it } from 'vitest';
import { detectSensitive, redact } from '@llmsec/core';
import { PiiBlockLane } from '../src/guards/pii-block-lane.ts';
import { PiiStreamLanes } from '../src/guards/pii-stream-lanes.ts';
import { PiiStreamRedaction } from '../src/guards/pii-stream-redact.ts';

/**
 * piiGuard redact on a stream of several texts interleaved (OpenAI chat with n > 1: each
 * choice's deltas in chunks of their own, one choice after another): each choice's deltas must
 * join to redact of that choice's text, wherever the other choices' chunks cut it. Driven as the
 * stream observer drives it: each item's lanes announced, its joined delta pushed, the items
 * before the hold delivered lane by lane through `next`, the rest after `end`. Redacted as one
 * text (before pii-stream-lanes.ts), '4111 1111 ' + 'Hello ' + '1111 1111' is no card.
 */

type Item = Array<[number, string]>;

function drive(items: Item[]): string[] {
  const r = new PiiStreamLanes(() => new PiiStreamRedaction({ piiMaxChars: 65536 }, 65536, 256, 32));
  const held: Array<[Item, number]> = [];
  const out: string[] = [];
  const deliver = (item: Item) => {
    for (const [lane, text] of item) out[lane] = (out[lane] ?? '') + r.next(text, lane);
  };
  let offset = 0;
  for (const item of items) {
    const delta = item.map(([, t]) => t).join('');
    if (item.some(([lane]) => lane !== 0)) r.announce(item.map(([lane, t]) => [lane, t.length] as const));
    offset += delta.length;
    const hold = r.push(delta);
    if (hold < 0 || hold > offset) expect(hold, 'hold within the stream').toBe(offset);
    held.push([item, offset]);
    while (held.length > 0 && held[0]![1] <= offset - hold) deliver(held.shift()![0]);
  }
  r.end();
  for (const [item] of held) deliver(item);
  return out;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FINDINGS = [
  'jane.doe@example.com',
  '4111 1111 1111 1111',
  '+44 20 7946 0958',
  'DE89 3704 0044 0532 0130 00',
  '123-45-6789',
  'sk-proj-4fQ9xT2mLw8RzK3vNb7YcH1pJd6Ge5Su',
  'Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0',
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----',
];
const WORDS = ['the', 'order', 'ships', 'Monday,', 'call', '42', 'AB', '12', '-', '\n', 'ok.', '555', '@'];

function answer(r: () => number): string {
  let text = '';
  const n = 3 + Math.floor(r() * 30);
  for (let i = 0; i < n; i++) {
    const w =
      r() < 0.3 ? FINDINGS[Math.floor(r() * FINDINGS.length)]! : WORDS[Math.floor(r() * WORDS.length)]!;
    text += (i > 0 ? ' ' : '') + w;
  }
  return text;
}

/** The lanes' texts cut into 1- to `max`-character pieces, interleaved at random; sometimes two lanes in one item. */
function interleave(texts: string[], r: () => number, max: number): Item[] {
  const at = texts.map(() => 0);
  const items: Item[] = [];
  for (;;) {
    const open = texts.map((t, i) => (at[i]! < t.length ? i : -1)).filter((i) => i >= 0);
    if (open.length === 0) return items;
    const item: Item = [];
    const lanes = r() < 0.2 && open.length > 1 ? open : [open[Math.floor(r() * open.length)]!];
    for (const lane of lanes) {
      const len = 1 + Math.floor(r() * max);
      item.push([lane, texts[lane]!.slice(at[lane], at[lane]! + len)]);
      at[lane]! += len;
    }
    items.push(item);
  }
}

describe('interleaved streams: each lane equals redact of its own text', () => {
  it('a card of choice 0 cut by a chunk of choice 1', () => {
    const out = drive([
      [[0, 'My card is 4111 1111 ']],
      [[1, 'Hello there ']],
      [[0, '1111 1111 thanks']],
      [[1, 'friend']],
    ]);
    expect(out).toEqual([redact('My card is 4111 1111 1111 1111 thanks').text, 'Hello there friend']);
    expect(out[0]).toContain('[REDACTED:credit_card]');
  });

  it('800 random answers of 2-4 choices, interleaved in 1-3 and 1-40 character pieces', () => {
    for (let seed = 1; seed <= 800; seed++) {
      const r = rng(seed);
      const texts = Array.from({ length: 2 + Math.floor(r() * 3) }, () => answer(r));
      const items = interleave(texts, r, r() < 0.3 ? 3 : 40);
      const got = drive(items);
      const expected = texts.map((t) => redact(t, { piiMaxChars: 65536 }).text);
      if (JSON.stringify(got) !== JSON.stringify(expected))
        expect(got, `seed ${seed}: ${JSON.stringify(items)}`).toEqual(expected);
    }
  });

  it('a single lane is driven as before (no announcement): equal to redact of the whole', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const text = answer(r);
      const items = interleave([text], r, 20);
      expect(drive(items)).toEqual([redact(text, { piiMaxChars: 65536 }).text]);
    }
  });

  it('lanes past 128 keep a check each (held to the end); a hostile stream of many lanes stays linear', () => {
    const items: Item[] = [];
    for (let i = 0; i < 20_000; i++) items.push([[i % 1000, 'ab ']]);
    // Thread CPU time, not wall time: a linearity bound must not measure the host's load.
    const t0 = process.threadCpuUsage();
    const out = drive(items);
    const cpu = process.threadCpuUsage(t0);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(10_000);
    // Every lane's text back as it was (no findings), the lanes past 128 through their own checks.
    expect(out.length).toBe(1000);
    for (const t of out) expect(t).toBe('ab '.repeat(20));
  });

  it('block mode, 800 random answers of 2-4 choices: no finding delivered before the cut or the end check, no cut without one', () => {
    for (let seed = 1; seed <= 800; seed++) {
      const r = rng(seed);
      const texts = Array.from({ length: 2 + Math.floor(r() * 3) }, () => answer(r));
      const items = interleave(texts, r, r() < 0.3 ? 3 : 40);
      const found: { types: string[] | undefined } = { types: undefined };
      const lanes = new PiiStreamLanes(() => new PiiBlockLane({ piiMaxChars: 65536 }, 256, 32, found));
      const held: Array<[Item, number]> = [];
      const out = texts.map(() => '');
      let offset = 0;
      for (const item of items) {
        if (item.some(([lane]) => lane !== 0))
          lanes.announce(item.map(([lane, t]) => [lane, t.length] as const));
        offset += item.reduce((n, [, t]) => n + t.length, 0);
        const hold = lanes.push(item.map(([, t]) => t).join(''));
        if (found.types !== undefined) break;
        held.push([item, offset]);
        while (held.length > 0 && held[0]![1] <= offset - hold)
          for (const [lane, t] of held.shift()![0]) out[lane] += t;
      }
      // A cut only for a real finding; what the chunk checks never reached (the last < 32
      // characters of a lane) stays held for the stream's end check, which reads each choice whole.
      if (found.types !== undefined)
        expect(
          texts.some((t) => detectSensitive(t).length > 0),
          `seed ${seed}`,
        ).toBe(true);
      for (const [i, t] of out.entries())
        if (detectSensitive(t).length > 0) expect(t, `seed ${seed}, choice ${i} delivered`).toBe('');
    }
  });
});
