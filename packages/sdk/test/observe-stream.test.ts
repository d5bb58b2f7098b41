import { describe, expect, it } from 'vitest';
import type { StreamAccumulator } from '../src/instrumentation/adapter.ts';
import { observeStream, type StreamObserver } from '../src/instrumentation/stream.ts';

/**
 * observeStream's iterator is written out by hand (issue 13: an async generator cost several
 * promises per item). These tests hold it to the generator it replaced, kept here as the
 * reference model: the same items delivered in the same order, the same observer calls, the
 * same outcome, for random streams with held-back text, guard cuts, inner failures, failing
 * end checks and readers that stop early.
 */

/**
 * The previous implementation (an async generator), with a plain array as the FIFO, and one
 * fix applied to it as to the new one: the watermark (`safe`) moves only with a guard's answer
 * to new text (the generator recomputed it with no hold for an item without text, releasing
 * the held tail at OpenAI's closing chunk, before the end checks; see the last test).
 */
async function* referenceObserve(
  inner: AsyncIterator<unknown>,
  observer: StreamObserver,
): AsyncGenerator<unknown> {
  let finished = false;
  const held: Array<{ item: unknown; end: number }> = [];
  let offset = 0;
  let safe = 0;
  try {
    const iterable = { [Symbol.asyncIterator]: () => inner };
    for await (const item of iterable) {
      const delta = observer.accumulator.observe(item);
      let hold = 0;
      if (delta.length > 0) {
        offset += delta.length;
        hold = observer.onDelta(delta, item);
        safe = offset - Math.max(0, hold);
      }
      if (hold <= 0 && held.length === 0) {
        yield item;
        continue;
      }
      held.push({ item, end: offset });
      while (held.length > 0 && (held[0]?.end as number) <= safe) yield held.shift()?.item;
    }
    finished = true;
    await observer.onEnd(observer.accumulator.complete, () => {}); // the model has no deliver
    while (held.length > 0) yield held.shift()?.item;
  } catch (err) {
    if (!finished) {
      finished = true;
      observer.onError(err);
    }
    throw err;
  } finally {
    if (!finished) observer.onAbandon();
  }
}

/** A small seeded generator (mulberry32), so a failing case can be replayed by its seed. */
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

interface Scenario {
  deltas: string[];
  /** Hold returned by onDelta for the k-th delta call (cycled). */
  holds: number[];
  /** onDelta throws on this delta call (guard cut), or -1. */
  cutAt: number;
  /** The inner iterator rejects instead of giving this item, or -1. */
  innerFailsAt: number;
  complete: boolean;
  endFails: boolean;
  endAsync: boolean;
  /** The reader: all items, or return() / throw() after this many items. */
  reader: { stopAfter: number; how: 'return' | 'throw' } | undefined;
}

function scenario(seed: number): Scenario {
  const r = rng(seed);
  const n = Math.floor(r() * 10);
  const deltas = Array.from({ length: n }, () => 'abcdefgh'.slice(0, Math.floor(r() * 5)));
  const holds = Array.from({ length: 6 }, () => [0, 0, -1, 1, 3, 8, 20][Math.floor(r() * 7)] as number);
  const pick = (p: number, max: number): number => (r() < p ? Math.floor(r() * Math.max(1, max)) : -1);
  const stop = r() < 0.35;
  return {
    deltas,
    holds,
    cutAt: pick(0.2, n),
    innerFailsAt: pick(0.2, n + 1),
    complete: r() < 0.8,
    endFails: r() < 0.2,
    endAsync: r() < 0.5,
    reader: stop
      ? { stopAfter: 1 + Math.floor(r() * Math.max(1, n)), how: r() < 0.7 ? 'return' : 'throw' }
      : undefined,
  };
}

/** Runs one scenario through an observe implementation; returns everything observable. */
async function run(s: Scenario, impl: 'current' | 'reference'): Promise<string[]> {
  const log: string[] = [];
  let i = 0;
  const inner: AsyncIterator<unknown> = {
    next: async () => {
      if (i === s.innerFailsAt) throw new Error(`inner failed at ${i}`);
      if (i >= s.deltas.length) return { value: undefined, done: true };
      return { value: { n: i, text: s.deltas[i++] }, done: false };
    },
    return: async () => {
      log.push('inner.return');
      return { value: undefined, done: true };
    },
  };
  let deltaCalls = 0;
  const accumulator: StreamAccumulator = {
    observe: (item) => (item as { text: string }).text,
    summary: () => ({ finishReasons: [], text: '', toolCalls: [] }),
    get complete() {
      return s.complete;
    },
  };
  const observer: StreamObserver = {
    accumulator,
    onDelta: (delta) => {
      const k = deltaCalls++;
      log.push(`onDelta ${delta}`);
      if (k === s.cutAt) throw new Error(`cut at ${k}`);
      return s.holds[k % s.holds.length] as number;
    },
    onEnd: (complete) => {
      log.push(`onEnd ${complete}`);
      if (!s.endAsync) {
        if (s.endFails) throw new Error('end failed');
        return;
      }
      return Promise.resolve().then(() => {
        if (s.endFails) throw new Error('end failed');
      });
    },
    onError: (err) => log.push(`onError ${(err as Error).message}`),
    onAbandon: () => log.push('onAbandon'),
  };
  let it: AsyncIterator<unknown>;
  if (impl === 'reference') {
    it = referenceObserve(inner, observer);
  } else {
    const stream = { iterator: (): AsyncIterator<unknown> => inner };
    observeStream(stream, observer);
    it = stream.iterator();
  }
  let got = 0;
  try {
    for (;;) {
      if (s.reader !== undefined && got === s.reader.stopAfter) {
        const r =
          s.reader.how === 'return' ? await it.return?.('bye') : await it.throw?.(new Error('reader threw'));
        log.push(`stopped ${JSON.stringify(r)}`);
        break;
      }
      const r = await it.next();
      if (r.done === true) {
        log.push('done');
        break;
      }
      got++;
      log.push(`item ${(r.value as { n: number }).n}`);
    }
  } catch (err) {
    log.push(`threw ${(err as Error).message}`);
  }
  // After the end, whatever happened, the iterator stays done.
  const after = await it.next().then(
    (r) => `after ${JSON.stringify(r)}`,
    (err: unknown) => `after threw ${(err as Error).message}`,
  );
  log.push(after);
  return log;
}

describe('observeStream (hand-written iterator) against the async generator it replaced', () => {
  it('the same items, observer calls and outcome on 3,000 random streams', async () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const s = scenario(seed);
      const [current, reference] = [await run(s, 'current'), await run(s, 'reference')];
      expect({ seed, log: current }).toEqual({ seed, log: reference });
    }
  });

  it('the scenarios reach every path (holds, cuts, inner failures, failing ends, early stops)', async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 3000; seed++) {
      for (const line of await run(scenario(seed), 'current')) seen.add(line.split(' ')[0] as string);
    }
    expect([...seen].sort()).toEqual(
      [
        'after',
        'done',
        'inner.return',
        'item',
        'onAbandon',
        'onDelta',
        'onEnd',
        'onError',
        'stopped',
        'threw',
      ].sort(),
    );
  });

  it('requests made while one is pending are answered in order', async () => {
    const items = ['a', 'b', 'c'];
    let i = 0;
    const inner: AsyncIterator<unknown> = {
      next: () =>
        new Promise((resolve) =>
          setTimeout(
            () =>
              resolve(
                i < items.length ? { value: items[i++], done: false } : { value: undefined, done: true },
              ),
            1,
          ),
        ),
    };
    const ends: boolean[] = [];
    const stream = { iterator: (): AsyncIterator<unknown> => inner };
    observeStream(stream, {
      accumulator: {
        observe: (x) => String(x),
        summary: () => ({ finishReasons: [], text: '', toolCalls: [] }),
        complete: true,
      },
      onDelta: () => 0,
      onEnd: (complete) => void ends.push(complete),
      onError: () => {},
      onAbandon: () => {},
    });
    const it = stream.iterator();
    const results = await Promise.all([it.next(), it.next(), it.next(), it.next(), it.next()]);
    expect(results).toEqual([
      { value: 'a', done: false },
      { value: 'b', done: false },
      { value: 'c', done: false },
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
    expect(ends).toEqual([true]);
  });

  it('return() before the first read abandons the call (a generator would skip its finally and leave it open)', async () => {
    let abandoned = 0;
    let closed = 0;
    const inner: AsyncIterator<unknown> = {
      next: async () => ({ value: undefined, done: true }),
      return: async () => {
        closed++;
        return { value: undefined, done: true };
      },
    };
    const stream = { iterator: (): AsyncIterator<unknown> => inner };
    observeStream(stream, {
      accumulator: {
        observe: () => '',
        summary: () => ({ finishReasons: [], text: '', toolCalls: [] }),
        complete: false,
      },
      onDelta: () => 0,
      onEnd: () => {},
      onError: () => {},
      onAbandon: () => abandoned++,
    });
    const it = stream.iterator();
    expect(await it.return?.()).toEqual({ value: undefined, done: true });
    expect(await it.next()).toEqual({ value: undefined, done: true });
    expect({ abandoned, closed }).toEqual({ abandoned: 1, closed: 1 });
  });

  it("an item without text (OpenAI's closing chunk) releases nothing held: the held tail waits for the end checks", async () => {
    const items = [{ text: 'hello ' }, { text: 'ZX-CAN' }, { text: '' }];
    let i = 0;
    const inner: AsyncIterator<unknown> = {
      next: async () =>
        i < items.length ? { value: items[i++], done: false } : { value: undefined, done: true },
    };
    const log: string[] = [];
    const stream = { iterator: (): AsyncIterator<unknown> => inner };
    observeStream(stream, {
      accumulator: {
        observe: (x) => (x as { text: string }).text,
        summary: () => ({ finishReasons: [], text: '', toolCalls: [] }),
        complete: true,
      },
      // Hold back the tail that could start the canary.
      onDelta: (delta) => (delta.startsWith('ZX') ? delta.length : 0),
      onEnd: () => {
        log.push('end checks');
        throw new Error('blocked at the end');
      },
      onError: () => {},
      onAbandon: () => {},
    });
    const it = stream.iterator();
    for (;;) {
      const r = await it.next().catch((err: unknown) => ({ done: true, value: (err as Error).message }));
      log.push(JSON.stringify(r.value));
      if (r.done === true) break;
    }
    expect(log).toEqual(['{"text":"hello "}', 'end checks', '"blocked at the end"']);
  });
});
