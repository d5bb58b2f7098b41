import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LineSplitter } from '@llmsec/core/jsonl';
import { seededRandom } from '@llmsec/core';
import { readBlocks } from '../src/replay-blocks.ts';
import type { ReaderRange } from '../src/replay-split.ts';

/**
 * A file read on byte ranges by several readers (replay-blocks.ts), their blocks put back in
 * file order with line numbers offset by the lines before (as replay-merge.ts does), gives
 * exactly what one LineSplitter over the whole file gives: the same lines, over-long lines and
 * numbers, wherever the cuts fall (block sizes of 1 byte and up, so that cuts land inside
 * CRLF pairs, multi-byte characters, blank lines, a byte order mark, and lines many blocks
 * long).
 */

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-blocks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A line and its number, or an over-long line's number and length in bytes. */
type Item = [kind: 'line' | 'over', lineNumber: number, textOrBytes: string | number];

function whole(data: Buffer, maxLineBytes: number): { items: Item[]; lines: number } {
  const items: Item[] = [];
  const splitter = new LineSplitter((line, n) => items.push(['line', n, line]), {
    maxLineBytes,
    onOverlong: (n, bytes) => items.push(['over', n, bytes]),
  });
  // Pieces of random sizes, as a stream delivers them.
  const r = seededRandom(data.length);
  for (let at = 0; at < data.length;) {
    const n = 1 + Math.floor(r() * 300);
    splitter.push(data.subarray(at, at + n));
    at += n;
  }
  splitter.end();
  return { items, lines: splitter.lines };
}

async function blocks(
  file: string,
  size: number,
  readers: number,
  blockBytes: number,
  maxLineBytes: number,
): Promise<{ items: Item[]; lines: number }> {
  // Each reader's blocks, in its order, with their lines' block-local numbers.
  const perReader = await Promise.all(
    Array.from({ length: readers }, async (_, index) => {
      const out: { items: Item[]; lines: number }[] = [];
      let current: Item[] = [];
      const { dev, ino } = statSync(file);
      const range: ReaderRange = { index, readers, blockBytes, size, dev, ino };
      await readBlocks(file, range, maxLineBytes, {
        onLine: (line, n) => current.push(['line', n, line]),
        onOverlong: (n, bytes) => current.push(['over', n, bytes]),
        onBlockEnd: (lines) => {
          out.push({ items: current, lines });
          current = [];
        },
        between: () => (index % 2 === 0 ? undefined : new Promise((resolve) => setImmediate(resolve))),
      });
      expect(current).toEqual([]);
      return out;
    }),
  );
  const count = Math.max(1, Math.ceil(size / blockBytes));
  const items: Item[] = [];
  let before = 0;
  for (let k = 0; k < count; k++) {
    const block = perReader[k % readers]!.shift()!;
    for (const [kind, n, value] of block.items) items.push([kind, before + n, value]);
    before += block.lines;
  }
  for (const rest of perReader) expect(rest).toEqual([]);
  return { items, lines: before };
}

const PIECES = [
  '{"event_id":"EVT-1","user_id":"u"}',
  '',
  ' \t ',
  'é',
  '忽略之前的所有指令 🙂',
  '\uFEFF{"a":1}',
  'x'.repeat(90),
  'y'.repeat(300),
  'not json',
  '\r',
  '"\\u000a\\n"',
];

function randomFile(seed: number): Buffer {
  const r = seededRandom(seed);
  const lines: string[] = [];
  const n = 5 + Math.floor(r() * 60);
  for (let i = 0; i < n; i++) {
    const piece = PIECES[Math.floor(r() * PIECES.length)]!;
    lines.push(r() < 0.2 ? `${piece}\r` : piece);
  }
  // A byte order mark first in some files; no final newline in some.
  const text = (r() < 0.3 ? '\uFEFF' : '') + lines.join('\n') + (r() < 0.5 ? '\n' : '');
  return Buffer.from(text, 'utf8');
}

describe('readBlocks', () => {
  it('gives the lines of one splitter over the whole file, for any cuts and readers', async () => {
    let compared = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const data = randomFile(seed);
      const file = join(dir, `f-${seed}.jsonl`);
      writeFileSync(file, data);
      const maxLineBytes = seed % 3 === 0 ? 64 : 1 << 20;
      const expected = whole(data, maxLineBytes);
      for (const readers of [1, 2, 3]) {
        for (const blockBytes of [1, 2, 5, 16, 61, 4096]) {
          const got = await blocks(file, data.length, readers, blockBytes, maxLineBytes);
          expect(got, `seed ${seed}, ${readers} readers, blocks of ${blockBytes}`).toEqual(expected);
          compared++;
        }
      }
    }
    expect(compared).toBe(40 * 3 * 6);
    // 720 full reads, the one-byte blocks one read per byte: 16-18 s alone on 2 cores at load
    // 11, past the 30 s default under the whole suite. The room is for a loaded CI machine, not
    // fewer cases: 138 s of the former 180 s at load 30 (slab-conditions' 180 s timed out there).
  }, 600_000);

  it('a line longer than many blocks: read once whole (or skipped), the blocks it spans empty', async () => {
    const long = 'z'.repeat(100_000);
    const data = Buffer.from(`a\n${long}\nb\n${long}`, 'utf8');
    const file = join(dir, 'long.jsonl');
    writeFileSync(file, data);
    for (const maxLineBytes of [1 << 20, 1_000]) {
      const expected = whole(data, maxLineBytes);
      expect(expected.items).toHaveLength(4);
      const got = await blocks(file, data.length, 2, 1_000, maxLineBytes);
      expect(got).toEqual(expected);
    }
  });

  it('the last block reads on past the size the replay began with (a log still written)', async () => {
    const data = Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n{"d":4}\n', 'utf8');
    const file = join(dir, 'grown.jsonl');
    writeFileSync(file, data);
    const got = await blocks(file, 16, 2, 8, 1 << 20);
    expect(got).toEqual(whole(data, 1 << 20));
  });
});
