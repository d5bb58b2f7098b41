import { describe, expect, it } from 'vitest';
import { systemPromptLeakageGuard, type SystemPromptLeakageOptions } from '../src/guards/index.ts';
import { StreamText } from '../src/instrumentation/stream-text.ts';
import { chatInput, recordingContext } from './guard-context.ts';

/**
 * A letter outside the BMP cut between its two UTF-16 halves (issue 13 review): the leakage
 * stream read the two halves as the ends of two words, matched neither, and released text it
 * would have held had the cut fallen before the letter (the end check still blocked). Property:
 * for random prompts with astral letters and random cuts, some inside surrogate pairs, every
 * chunk decision (block, or how much of the text is released) and the final verdict equal those
 * of the same cuts moved to code-point boundaries (a cut inside a pair moved before it).
 */

/** mulberry32: a failing case can be replayed by its seed. */
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

const range = (from: number, n: number): string[] =>
  Array.from({ length: n }, (_, i) => String.fromCodePoint(from + i));

/** Letters: mostly outside the BMP (Deseret and Adlam with case, math bold, Osage), some ASCII and Greek. */
const LETTERS = [
  ...range(0x10400, 8), // Deseret capitals (lower case at +0x28)
  ...range(0x1e900, 4), // Adlam capitals
  ...range(0x1d400, 6), // mathematical bold capitals (no case mapping)
  ...range(0x104b0, 4), // Osage capitals
  'a',
  'b',
  'k',
  'Ω',
  'λ',
];
/** Between words: spaces, punctuation, and emoji (outside the BMP, not letters). */
const SEPARATORS = [' ', ' ', ' ', ', ', '. ', '\u{1F600}', ' \u{1F680} ', '\u{1F44D}\u{1F3FD} '];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

interface Case {
  system: string;
  response: string;
  options: SystemPromptLeakageOptions;
  cuts: number[];
}

function makeCase(seed: number): Case {
  const r = rng(seed);
  const word = (): string => Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(r, LETTERS)).join('');
  const promptWords = Array.from({ length: 5 + Math.floor(r() * 10) }, word);
  const sep = (): string => pick(r, SEPARATORS);
  const parts: string[] = [];
  for (let k = Math.floor(r() * 4); k > 0; k--) parts.push(word());
  // A leaked passage: a run of the prompt's words, in the prompt's case or another.
  const from = Math.floor(r() * promptWords.length);
  const to = from + 1 + Math.floor(r() * (promptWords.length - from));
  const casing = r();
  for (const w of promptWords.slice(from, to))
    parts.push(casing < 0.4 ? w : casing < 0.7 ? w.toUpperCase() : w.toLowerCase());
  for (let k = Math.floor(r() * 4); k > 0; k--) parts.push(word());
  const response = parts.map((p) => p + sep()).join('');
  // Cuts at random units, and some forced between the halves of a pair.
  const pairs: number[] = [];
  for (let i = 1; i < response.length; i++) {
    const c = response.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) pairs.push(i);
  }
  const cuts = new Set<number>();
  for (let k = Math.floor(r() * 12); k > 0; k--) cuts.add(1 + Math.floor(r() * (response.length - 1)));
  for (let k = Math.floor(r() * 8); k > 0 && pairs.length > 0; k--) cuts.add(pick(r, pairs));
  if (r() < 0.15) for (let i = 1; i < response.length; i++) cuts.add(i); // one unit at a time
  const options: SystemPromptLeakageOptions = {
    ngram: 2 + Math.floor(r() * 2),
    threshold: pick(r, [0.3, 0.5, 0.8, 1]),
    maxLeakShare: pick(r, [0, 0.1, 0.3]),
  };
  if (r() < 0.2) options.canary = `${pick(r, LETTERS)}-CAN-${pick(r, LETTERS)}`;
  return { system: promptWords.join(' '), response, options, cuts: [...cuts].sort((x, y) => x - y) };
}

/** The deltas between the cuts. */
function deltasOf(text: string, cuts: number[]): string[] {
  const bounds = [0, ...cuts, text.length];
  return bounds.slice(1).map((end, i) => text.slice(bounds[i], end));
}

/** A cut between the halves of a surrogate pair moved before the pair. */
function atCodePoints(text: string, cuts: number[]): number[] {
  return cuts.map((i) => {
    const c = text.charCodeAt(i);
    return c >= 0xdc00 &&
      c <= 0xdfff &&
      i > 0 &&
      text.charCodeAt(i - 1) >= 0xd800 &&
      text.charCodeAt(i - 1) <= 0xdbff
      ? i - 1
      : i;
  });
}

/**
 * Each delta's decision: `block`, or how many units of the text are released so far; then the
 * final verdict. An empty delta (two cuts met) is not passed (the stream observer passes none):
 * the decision before it stands.
 */
function decisions(c: Case, deltas: string[]): string[] {
  const guard = systemPromptLeakageGuard(c.options);
  const { ctx } = recordingContext(chatInput({ system: c.system }));
  const text = new StreamText();
  const out: string[] = [];
  let released = 0;
  let seen = 0;
  for (const d of deltas) {
    if (d.length > 0) {
      seen += d.length;
      const decision = guard.checkChunk(text.append(d), d, ctx);
      if (decision.action === 'block') {
        out.push('block');
        return out;
      }
      const hold = decision.action === 'allow' ? (decision.holdChars ?? 0) : 0;
      released = seen - Math.max(0, hold);
    }
    out.push(`released ${released}`);
  }
  out.push(`end ${guard.checkResponse({ text: c.response, toolCalls: [] }, ctx).action}`);
  return out;
}

describe('leakage stream: a cut inside a surrogate pair decides as a cut before it', () => {
  it('random astral prompts and cuts: the same chunk decisions and final verdict', () => {
    let inside = 0;
    let held = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const c = makeCase(seed);
      const moved = atCodePoints(c.response, c.cuts);
      if (moved.some((m, i) => m !== c.cuts[i])) inside++;
      const got = decisions(c, deltasOf(c.response, c.cuts));
      const want = decisions(c, deltasOf(c.response, moved));
      if (got.some((d) => d !== `released ${c.response.length}` && d.startsWith('released'))) held++;
      if (got.join('|') !== want.join('|')) expect({ seed, ...c, got }).toEqual({ seed, ...c, got: want });
    }
    // The property is not vacuous: most cases cut inside a pair, and many hold text back.
    expect(inside).toBeGreaterThan(400);
    expect(held).toBeGreaterThan(300);
  });

  it('a Deseret prompt leaked one UTF-16 unit at a time is held as when cut per code point', () => {
    const c: Case = {
      system: '𐐀𐐁𐐂 𐐃𐐄 𐐅𐐆 𐐇𐐈 𐐉',
      response: 'ok 𐐀𐐁𐐂 𐐃𐐄 𐐅𐐆 𐐇𐐈 𐐉.',
      options: { ngram: 2, threshold: 1, maxLeakShare: 0 },
      cuts: [],
    };
    const units = Array.from({ length: c.response.length - 1 }, (_, i) => i + 1);
    const got = decisions(c, deltasOf(c.response, units));
    const want = decisions(c, deltasOf(c.response, atCodePoints(c.response, units)));
    expect(got).toEqual(want);
    // Nothing of the leak is released before the block: 'ok ' at most.
    expect(got.at(-1)).toBe('block');
    for (const d of got.slice(0, -1)) expect(Number(d.split(' ')[1])).toBeLessThanOrEqual(3);
  });
});
