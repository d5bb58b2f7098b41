import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { planSplit } from '../src/replay-split.ts';

/**
 * Which files are read on byte ranges by several readers: only a regular file, large enough,
 * whose bytes are the lines themselves (not gzip, not UTF-16, which one reader decompresses or
 * refuses from the start). A FIFO must not even be opened (that would wait for a writer).
 */

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-split-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LINES = Buffer.from('{"event_id":"e"}\n'.repeat(1_000));
const small = { blockBytes: 1_000, minBytes: 4_000 };

describe('planSplit', () => {
  it('splits a regular file of lines into one range per reader', () => {
    const file = join(dir, 'plain.jsonl');
    writeFileSync(file, LINES);
    // The file itself too (its device and inode): each reader checks it opens the same one.
    const { dev, ino } = statSync(file);
    expect(planSplit(file, { ...small, readers: 3 })).toEqual([
      { index: 0, readers: 3, blockBytes: 1_000, size: LINES.length, dev, ino },
      { index: 1, readers: 3, blockBytes: 1_000, size: LINES.length, dev, ino },
      { index: 2, readers: 3, blockBytes: 1_000, size: LINES.length, dev, ino },
    ]);
    // Defaults: two readers on 1 MiB blocks, from 16 MiB on.
    expect(planSplit(file)).toBeUndefined();
    expect(planSplit(file, { ...small, readers: 1 })).toBeUndefined();
  });

  it('leaves to one reader a small, compressed, UTF-16 or UTF-32, missing or non-regular file', () => {
    // Two readers asked for: the default is one on a machine of fewer than three cores, which
    // would refuse every file here whatever it holds.
    const two = { ...small, readers: 2 };
    const plain = join(dir, 'plain-two.jsonl');
    writeFileSync(plain, LINES);
    expect(planSplit(plain, two)).toHaveLength(2);
    const tiny = join(dir, 'tiny.jsonl');
    writeFileSync(tiny, LINES.subarray(0, 3_000));
    expect(planSplit(tiny, two)).toBeUndefined();
    const gz = join(dir, 'events.jsonl.gz');
    writeFileSync(gz, Buffer.concat([gzipSync(LINES), Buffer.alloc(5_000)]));
    expect(planSplit(gz, two)).toBeUndefined();
    // UTF-16's marks, and UTF-32's (LE begins with UTF-16LE's; BE's starts 00 00): one reader
    // refuses them from the start with the iconv line (gzip-input.ts), a byte range would not.
    for (const bom of [
      [0xff, 0xfe],
      [0xfe, 0xff],
      [0, 0, 0xfe, 0xff],
    ]) {
      const utf16 = join(dir, `utf-${bom.join('-')}.jsonl`);
      writeFileSync(utf16, Buffer.concat([Buffer.from(bom), LINES]));
      expect(planSplit(utf16, two)).toBeUndefined();
    }
    expect(planSplit(join(dir, 'missing.jsonl'), two)).toBeUndefined();
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    expect(planSplit(sub, two)).toBeUndefined();
  });

  it('a FIFO: one reader, and planning does not wait for its writer', () => {
    const fifo = join(dir, 'events.fifo');
    execFileSync('mkfifo', [fifo]);
    // With no writer, opening it would block this thread (and the test would time out).
    expect(planSplit(fifo, { ...small, minBytes: 0 })).toBeUndefined();
  });

  it('refuses a bad reader count or block size', () => {
    const file = join(dir, 'plain.jsonl');
    expect(() => planSplit(file, { readers: 0 })).toThrow(/readers/);
    expect(() => planSplit(file, { readers: 1.5 })).toThrow(/readers/);
    expect(() => planSplit(file, { blockBytes: 0 })).toThrow(/blockBytes/);
  });
});
