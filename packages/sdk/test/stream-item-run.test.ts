import { describe, expect, it } from 'vitest';
import type { StreamAccumulator } from '../src/instrumentation/adapter.ts';
import { ItemRun, observeIterator, type StreamObserver } from '../src/instrumentation/stream.ts';

/**
 * A `deliver` that answers an ItemRun hands the reader several items for one, in order (a
 * redact stream's tool arguments sent whole just before the item that ends the call): on the
 * common path, and for items held back and released at the end.
 */

async function* source(items: string[]): AsyncGenerator<unknown> {
  for (const i of items) yield i;
}

function observer(holdAll: boolean): StreamObserver {
  const acc: StreamAccumulator = {
    observe: (item: unknown) => (typeof item === 'string' && item.startsWith('t') ? item : ''),
    summary: () => ({}) as never,
    complete: true,
  } as unknown as StreamAccumulator;
  return {
    accumulator: acc,
    onDelta: () => (holdAll ? 1_000_000 : 0),
    onEnd: (_c, release) => release(),
    onError: () => undefined,
    onAbandon: () => {},
    deliver: (item) => (item === 'stop' ? new ItemRun(['whole', 'stop']) : item),
  };
}

async function read(holdAll: boolean): Promise<unknown[]> {
  const out: unknown[] = [];
  const it = observeIterator(
    source(['t1', 'piece', 'stop', 't2', 'end'])[Symbol.asyncIterator](),
    observer(holdAll),
  );
  for await (const x of it) out.push(x);
  return out;
}

describe('ItemRun', () => {
  it('several items for one, in order, on the common path', async () => {
    expect(await read(false)).toEqual(['t1', 'piece', 'whole', 'stop', 't2', 'end']);
  });

  it('several items for one, in order, when held and released at the end', async () => {
    expect(await read(true)).toEqual(['t1', 'piece', 'whole', 'stop', 't2', 'end']);
  });
});
