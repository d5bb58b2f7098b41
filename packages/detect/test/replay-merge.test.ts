import { describe, expect, it } from 'vitest';
import { ReaderMerge, type MergedBatch } from '../src/replay-merge.ts';

/**
 * The engine's side of readers on byte ranges (replay-merge.ts): batches taken in file order
 * (block k is reader k mod N's) with the lines of the blocks before; a reader's failure taken
 * at its turn, after every block before it, with the file's lines up to it; a failure after a
 * reader's last block (closing the file) still ends the replay instead of leaving it waiting.
 */

type Batch = MergedBatch & { id: string };
const batch = (id: string, lines: number, blockLines?: number): Batch => ({
  kind: 'batch',
  id,
  lines,
  ...(blockLines !== undefined ? { blockLines } : {}),
});

function merge(readers: number) {
  const m = new ReaderMerge<Batch>(readers);
  const taken: string[] = [];
  const take = (b: Batch, reader: number, before: number) => taken.push(`${b.id}@${reader}+${before}`);
  return { m, taken, take };
}

describe('ReaderMerge', () => {
  it('takes blocks in file order, numbering from the lines before', () => {
    const { m, taken, take } = merge(2);
    expect(m.push(1, batch('b1', 5, 5), take)).toBeUndefined(); // block 1 waits for block 0
    expect(taken).toEqual([]);
    expect(m.push(0, batch('a0', 1024), take)).toBeUndefined();
    expect(m.push(0, batch('a0end', 1500, 1500), take)).toBeUndefined();
    expect(taken).toEqual(['a0@0+0', 'a0end@0+0', 'b1@1+1500']);
    expect(m.linesTaken).toBe(1505);
    expect(m.push(0, { kind: 'done', lines: 1500, cpuMs: 1 }, take)).toBeUndefined();
    expect(m.push(1, { kind: 'done', lines: 5, cpuMs: 2 }, take)).toEqual({ lines: 1505, cpuMs: 3 });
  });

  it("a reader's failure waits for the blocks before it, and says the lines up to it", () => {
    const { m, taken, take } = merge(2);
    m.push(0, batch('a0', 1024), take);
    // Reader 1 read 300 lines of block 1 into a batch, then failed in it, before reader 0 ended block 0.
    expect(m.push(1, batch('b1', 300), take)).toBeUndefined();
    expect(m.push(1, { kind: 'failed', message: 'cut' }, take)).toBeUndefined();
    expect(m.push(0, batch('a0end', 1500, 1500), take)).toEqual({ failed: 'cut', lines: 1800 });
    expect(taken).toEqual(['a0@0+0', 'a0end@0+0', 'b1@1+1500']);
  });

  it("a failure after a reader's last block ends the replay", () => {
    const { m, take } = merge(2);
    m.push(0, batch('a0end', 10, 10), take);
    m.push(1, batch('b1end', 7, 7), take);
    m.push(1, { kind: 'failed', message: 'close failed' }, take);
    // Reader 0 is done: every block was taken; reader 1's failure came after its last.
    expect(m.push(0, { kind: 'done', lines: 10, cpuMs: undefined }, take)).toEqual({
      failed: 'close failed',
      lines: 17,
    });
  });
});
