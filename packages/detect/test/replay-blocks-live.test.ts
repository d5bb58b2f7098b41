import {
  appendFileSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LineSplitter } from '@llmsec/core/jsonl';
import { readBlocks } from '../src/replay-blocks.ts';
import type { ReaderRange } from '../src/replay-split.ts';

/**
 * A file that changes while several readers read it on byte ranges (replay-blocks.ts). A log
 * still written grows: whatever the order in which the readers reach its end, the lines put
 * back together are those one reader would give at some moment (every line whole, none lost
 * or doubled in the middle). A file cut below its planned size, or replaced by another at its
 * path, fails the reader instead of giving a mix of lines. The readers run one after the
 * other here, the file changed in between, so that each order is taken for certain.
 */

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-blocks-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Block = { lines: string[]; count: number };

function rangesOf(file: string, readers: number, blockBytes: number): ReaderRange[] {
  const { size, dev, ino } = statSync(file);
  return Array.from({ length: readers }, (_, index) => ({ index, readers, blockBytes, size, dev, ino }));
}

async function readerBlocks(file: string, range: ReaderRange): Promise<Block[]> {
  const out: Block[] = [];
  let current: string[] = [];
  await readBlocks(file, range, 1 << 20, {
    onLine: (line) => current.push(line),
    onOverlong: () => current.push('<over>'),
    onBlockEnd: (count) => {
      out.push({ lines: current, count });
      current = [];
    },
    between: () => undefined,
  });
  return out;
}

/** The blocks of every reader in file order (block k is reader k mod N's), as the merge takes them. */
function merged(perReader: Block[][], range: ReaderRange): string[] {
  const blocks = Math.ceil(range.size / range.blockBytes);
  const lines: string[] = [];
  for (let k = 0; k < blocks; k++) {
    const block = perReader[k % range.readers]!.shift()!;
    expect(block.lines.length).toBeLessThanOrEqual(block.count);
    lines.push(...block.lines);
  }
  for (const rest of perReader) expect(rest).toEqual([]);
  return lines;
}

function oneReader(text: string): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  splitter.push(Buffer.from(text));
  splitter.end();
  return lines;
}

// 25 bytes, blocks of 8: the line of b's starts in block 2 (reader 0's) and is still being
// written across the last block (byte 24, reader 1's), which holds no newline yet.
const START = '{"a":1}\n{"a":2}\n' + 'b'.repeat(9);
const REST = 'bb\n{"c":3}\n{"d":4}\n';

describe('readBlocks on a file that changes while read', () => {
  it('a log still written: the earlier reader reaches the line being written first', async () => {
    const file = join(dir, 'grows-1.jsonl');
    writeFileSync(file, START);
    const ranges = rangesOf(file, 2, 8);
    // Reader 0 (blocks 0 and 2) reads to the end of the unfinished line, then the writer
    // finishes it and adds two lines, then reader 1 (blocks 1 and 3, the last) reads.
    const first = await readerBlocks(file, ranges[0]!);
    appendFileSync(file, REST);
    const second = await readerBlocks(file, ranges[1]!);
    // One reader at reader 0's moment: the unfinished line last. Not the b's cut in the
    // middle of the replay (a malformed line, its event lost) with the lines after it read.
    expect(merged([first, second], ranges[0]!)).toEqual(oneReader(START));
  });

  it('a log still written: the last block is read before the line being written ends', async () => {
    const file = join(dir, 'grows-2.jsonl');
    writeFileSync(file, START);
    const ranges = rangesOf(file, 2, 8);
    const second = await readerBlocks(file, ranges[1]!);
    appendFileSync(file, REST);
    const first = await readerBlocks(file, ranges[0]!);
    // One reader at reader 0's moment: every line there, not the lines after the b's dropped
    // because the last block had seen no newline yet.
    expect(merged([first, second], ranges[0]!)).toEqual(oneReader(START + REST));
  });

  it('a log still written, three readers: lines appended after complete ones are read once', async () => {
    const file = join(dir, 'grows-3.jsonl');
    const text = '{"a":1}\n{"b":2}\n{"c":3}\n{"d":4}\n';
    writeFileSync(file, text);
    const ranges = rangesOf(file, 3, 8);
    const third = await readerBlocks(file, ranges[2]!);
    appendFileSync(file, '{"e":5}\n');
    const [first, second] = [await readerBlocks(file, ranges[0]!), await readerBlocks(file, ranges[1]!)];
    // The last block (3, reader 0's) is read after the append: it has the new line. (Passed
    // before the change to where a growing file ends too: a guard of the common case.)
    expect(merged([first, second, third], ranges[0]!)).toEqual(oneReader(text + '{"e":5}\n'));
  });

  it('a file cut below its planned size fails the reader, not a replay with lines missing', async () => {
    const file = join(dir, 'shrinks.jsonl');
    writeFileSync(file, '{"a":1}\n'.repeat(8));
    const ranges = rangesOf(file, 2, 16);
    await readerBlocks(file, ranges[0]!);
    // copytruncate: the log cut to nothing and written again from its start.
    truncateSync(file, 0);
    appendFileSync(file, '{"z":9}\n');
    await expect(readerBlocks(file, ranges[1]!)).rejects.toThrow(/shrank below the 64 bytes/);
  });

  it('another file renamed to its path (a rotation) fails the reader, not a mix of two files', async () => {
    const file = join(dir, 'rotated.jsonl');
    writeFileSync(file, '{"a":1}\n'.repeat(8));
    const ranges = rangesOf(file, 2, 16);
    await readerBlocks(file, ranges[0]!);
    const next = join(dir, 'rotated.next');
    writeFileSync(next, '{"b":2}\n'.repeat(8));
    renameSync(next, file);
    await expect(readerBlocks(file, ranges[1]!)).rejects.toThrow(
      /was replaced while the replay was starting/,
    );
  });
});
