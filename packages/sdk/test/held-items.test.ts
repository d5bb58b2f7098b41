import { describe, expect, it } from 'vitest';
import { systemPromptLeakageGuard } from '../src/guards/index.ts';
import type { StreamAccumulator } from '../src/instrumentation/adapter.ts';
import { COMPACT_FLOOR, HeldItems, NONE } from '../src/instrumentation/held-items.ts';
import { observeIterator, type StreamObserver } from '../src/instrumentation/stream.ts';
import { StreamText } from '../src/instrumentation/stream-text.ts';
import { chatInput, recordingContext } from './guard-context.ts';

/**
 * The stream observer's queue of held items drops its taken prefix as it goes (issue 13): a
 * guard that always holds something (the leakage guard's canary tail, a partial word) rarely
 * lets the queue empty, and the taken slots stayed allocated for the whole stream.
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

/**
 * What the queue may keep: used slots (held and taken) max(held + floor, 2 x held), arrays at
 * most twice the used slots plus the floor (held-items.ts).
 */
function bound(q: HeldItems): number {
  return Math.max(2 * q.size + 3 * COMPACT_FLOOR, 4 * q.size + COMPACT_FLOOR);
}

describe('HeldItems', () => {
  it('is the FIFO a plain array is, for random pushes and takes, within its bound', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const q = new HeldItems();
      const model: Array<{ item: unknown; end: number }> = [];
      let end = 0;
      for (let step = 0; step < 400; step++) {
        if (r() < 0.55) {
          end += Math.floor(r() * 3);
          const item = r() < 0.1 ? undefined : { step };
          q.push(item, end);
          model.push({ item, end });
        } else {
          const safe = end - Math.floor(r() * 4);
          const got = q.takeIfBefore(safe);
          const head = model[0];
          if (head !== undefined && head.end <= safe) {
            model.shift();
            expect(got).toBe(head.item);
          } else {
            expect(got).toBe(NONE);
          }
        }
        expect(q.size).toBe(model.length);
        expect(q.retained).toBeLessThanOrEqual(bound(q));
      }
    }
  });

  it('counts the characters it holds (the cap reads it) through takes and compactions', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const r = rng(seed);
      const q = new HeldItems();
      const model: Array<{ end: number; chars: number }> = [];
      let end = 0;
      for (let step = 0; step < 600; step++) {
        if (r() < 0.6) {
          end += Math.floor(r() * 3);
          const chars = Math.floor(r() * 100);
          q.push({ step }, end, chars);
          model.push({ end, chars });
        } else {
          const safe = end - Math.floor(r() * 4);
          if (q.takeIfBefore(safe) !== NONE) model.shift();
        }
        expect(q.chars).toBe(model.reduce((n, m) => n + m.chars, 0));
      }
    }
  });

  it('keeps a bounded array when something is always held', () => {
    const q = new HeldItems();
    for (let i = 0; i < 100_000; i++) {
      q.push(i, i + 1);
      // Everything but the last 3 may go: the queue never empties.
      for (let got = q.takeIfBefore(i - 2); got !== NONE; got = q.takeIfBefore(i - 2)) void got;
      expect(q.size).toBeLessThanOrEqual(4);
    }
    expect(q.retained).toBeLessThanOrEqual(bound(q));
  });
});

/** A stream of 1-character items, observed with `onDelta`; `held` is the queue to watch. */
function oneCharStream(
  text: string,
  onDelta: (delta: string) => number,
  onEnd: () => void = () => undefined,
): { iterator: AsyncIterableIterator<unknown>; held: HeldItems; log: string[] } {
  let i = 0;
  const log: string[] = [];
  const inner: AsyncIterator<unknown> = {
    next: () =>
      Promise.resolve(
        i < text.length
          ? { value: { n: i, text: text[i++] as string }, done: false }
          : { value: undefined, done: true },
      ),
    return: () => Promise.resolve({ value: undefined, done: true }),
  };
  const accumulator: StreamAccumulator = {
    observe: (item) => (item as { text: string }).text,
    summary: () => ({ finishReasons: [], text: '', toolCalls: [] }),
    complete: true,
  };
  const observer: StreamObserver = {
    accumulator,
    onDelta,
    onEnd,
    onError: (err) => log.push(`onError ${(err as Error).message}`),
    onAbandon: () => log.push('onAbandon'),
  };
  const held = new HeldItems();
  return { iterator: observeIterator(inner, observer, held), held, log };
}

/** The leakage guard with a canary: it holds the last canary.length-1 characters at every delta. */
function canaryGuard(): (delta: string) => number {
  const guard = systemPromptLeakageGuard({ canary: 'CANARY-0123456789' });
  const { ctx } = recordingContext(chatInput({ system: 'You are a helpful assistant. Answer briefly.' }));
  const text = new StreamText();
  return (delta) => {
    const d = guard.checkChunk(text.append(delta), delta, ctx);
    if (d.action !== 'allow') throw new Error(d.action === 'block' ? 'blocked' : 'unexpected');
    return d.holdChars ?? 0;
  };
}

describe('observed stream: held items of a long stream of 1-character deltas', () => {
  const text = 'lorem ipsum dolor sit amet, '.repeat(2000); // 56,000 one-character items

  it('keeps the queue within what is held; every item released once, in order', async () => {
    const { iterator, held } = oneCharStream(text, canaryGuard());
    let next = 0;
    let maxRetained = 0;
    for await (const item of iterator) {
      expect((item as { n: number }).n).toBe(next++);
      maxRetained = Math.max(maxRetained, held.retained);
      expect(held.retained).toBeLessThanOrEqual(bound(held));
    }
    expect(next).toBe(text.length);
    // 16 characters held: a few dozen slots at most, not one per item of the stream.
    expect(maxRetained).toBeLessThanOrEqual(2 * 17 + 3 * COMPACT_FLOOR);
  });

  it('a cut by the guard releases nothing it held', async () => {
    const cutAt = 30_000;
    const guard = canaryGuard();
    let calls = 0;
    const { iterator, held, log } = oneCharStream(text, (delta) => {
      if (++calls === cutAt) throw new Error('blocked');
      return guard(delta);
    });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const item of iterator) seen.push((item as { n: number }).n);
      })(),
    ).rejects.toThrow('blocked');
    // The last 16 characters before the cut were held (the canary's length - 1): never released.
    expect(seen).toEqual(Array.from({ length: cutAt - 1 - 16 }, (_, i) => i));
    expect(held.retained).toBeLessThanOrEqual(bound(held));
    expect(log).toEqual(['onError blocked']);
  });

  it('a block by the end check releases nothing held', async () => {
    const { iterator, log } = oneCharStream(text, canaryGuard(), () => {
      throw new Error('end blocked');
    });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const item of iterator) seen.push((item as { n: number }).n);
      })(),
    ).rejects.toThrow('end blocked');
    expect(seen).toEqual(Array.from({ length: text.length - 16 }, (_, i) => i));
    expect(log).toEqual([]);
  });
});

describe('observed stream: the cap counts what is held back', () => {
  /** Items of the given texts; the observer holds the whole text at the items listed in `holdAt`. */
  function stream(texts: string[], holdAt: Set<number>, cap: number) {
    let i = 0;
    let k = 0;
    const inner: AsyncIterator<unknown> = {
      next: () =>
        Promise.resolve(
          i < texts.length
            ? { value: { n: i, text: texts[i++] as string }, done: false }
            : { value: undefined, done: true },
        ),
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
    let total = 0;
    const observer: StreamObserver = {
      accumulator: {
        observe: (item) => (item as { text: string }).text,
        summary: () => ({ finishReasons: [], text: '', toolCalls: [] }),
        complete: true,
      },
      onDelta: (delta) => {
        total += delta.length;
        return holdAt.has(k++) ? total : 0;
      },
      onEnd: () => undefined,
      onError: () => undefined,
      onAbandon: () => undefined,
    };
    const held = new HeldItems(cap);
    return { iterator: observeIterator(inner, observer, held), held };
  }

  async function read(iterator: AsyncIterableIterator<unknown>): Promise<number[]> {
    const seen: number[] = [];
    for await (const item of iterator) seen.push((item as { n: number }).n);
    return seen;
  }

  it('an item that may go out at once behind a held one is not counted: no cut', async () => {
    // Item 0 is held; item 1 (far over the cap) releases it and may go out itself at the next read.
    const { iterator, held } = stream(['held ', 'x'.repeat(1_000), 'end'], new Set([0]), 100);
    expect(await read(iterator)).toEqual([0, 1, 2]);
    expect(held.chars).toBe(0);
  });

  it('items held back past the cap still cut the stream, nothing held delivered', async () => {
    const { iterator } = stream(['a'.repeat(60), 'b'.repeat(60), 'c'], new Set([0, 1]), 100);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const item of iterator) seen.push((item as { n: number }).n);
      })(),
    ).rejects.toThrow(/stream_limit|characters/);
    expect(seen).toEqual([]);
  });
});
