import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Whether a replay's file is read by several reader threads at once, each on its own byte ranges
 * (issue 13: the reader thread, decoding JSON, sets the replay's pace while the engine's thread
 * waits for it part of the time).
 *
 * The file is cut into blocks of `blockBytes`; block k is read by reader k mod `readers`. A line
 * belongs to the block holding its first byte, so a reader of block k skips to the first line
 * that starts at or after k * blockBytes and reads on past the block's end to the end of the
 * last line that starts inside it: every line is read by one reader, whole, wherever the cuts
 * fall (replay-blocks.ts). The engine's side takes the blocks in file order, one reader after
 * the other, and numbers lines by adding the lines of the blocks before (replay-merge.ts).
 *
 * Only for a regular file that is neither gzip-compressed nor UTF-16 / UTF-32 (a stream, a pipe, a FIFO
 * or a device is read once from its start, by one reader, as are those two: their bytes are
 * not lines until decompressed or refused), and only when it is large enough for a second
 * thread's start (~40 ms) to pay.
 */
export interface ReaderRange {
  /** This reader's number: it reads blocks index, index + readers, ... */
  index: number;
  readers: number;
  blockBytes: number;
  /**
   * The file's size when the replay began. Which block a line belongs to is decided on these
   * bytes only, which a writer appending to the log does not change: the last block reads on
   * to the end of the file, and so does the block whose last line runs past this size.
   */
  size: number;
  /**
   * The file planned (fstat's device and inode): each reader opens the path itself, so a file
   * renamed over it in between (a log rotation) would have readers reading two files.
   */
  dev: number;
  ino: number;
}

/** How a replay's file may be split (tests set small blocks to put cuts everywhere). */
export interface ReaderSplitOptions {
  /** Reader threads; 1 reads the file from its start on one. @default 2 with 3 cores or more, else 1 */
  readers?: number;
  /** @default 1 MiB */
  blockBytes?: number;
  /** Smaller files are read by one reader. @default 16 MiB */
  minBytes?: number;
  /**
   * Whether a reader may hand lines to the engine's thread undecoded (ReaderBatch.raw), for it
   * to decode when it would otherwise wait: 'auto' when the engine's side has taken all but at
   * most one batch at a read's end; 'always' and 'never' for tests. Same events either way.
   * @default 'auto'
   */
  rawLines?: 'auto' | 'always' | 'never';
}

/**
 * 1 MiB: ~1,500 events of a log with previews, under two batches, so that a reader's 8 batches
 * in flight span several of its blocks and it keeps reading while the engine's thread takes the
 * other reader's block. Each block costs one extra read past its end (the rest of its last line).
 */
export const DEFAULT_BLOCK_BYTES = 1 << 20;
export const DEFAULT_MIN_SPLIT_BYTES = 16 << 20;

/**
 * Two readers only where the machine has a core for each of the three threads. On two cores
 * (a shared bench machine, load 10-15) a second reader cost 0.2-0.9 s more CPU on 1 M lines
 * (two isolates warming up, collecting, and sharing caches) and did not shorten the wall clock:
 * the one-reader replay already keeps ~1.5 of the two cores busy (reader, engine, V8's
 * compiler and collector threads). Not measured on a quiet two-core machine: set `readers`
 * (the CLI: LLMSEC_REPLAY_READERS) to compare.
 */
export function defaultReaders(): number {
  return availableParallelism() >= 3 ? 2 : 1;
}

/**
 * The ranges of `file`'s readers: one per reader, or undefined for one reader from the start
 * (not a regular file, compressed, UTF-16 or UTF-32, too small, or unreadable: that reader reports why).
 */
export function planSplit(file: string, options: ReaderSplitOptions = {}): ReaderRange[] | undefined {
  const readers = options.readers ?? defaultReaders();
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  const minBytes = options.minBytes ?? DEFAULT_MIN_SPLIT_BYTES;
  if (!(Number.isInteger(readers) && readers >= 1 && readers <= 16))
    throw new RangeError(`readers must be an integer from 1 to 16, got ${String(readers)}`);
  if (!(Number.isInteger(blockBytes) && blockBytes >= 1))
    throw new RangeError(`blockBytes must be a positive integer, got ${String(blockBytes)}`);
  if (readers === 1) return undefined;
  let fd: number;
  try {
    // The path first: opening a FIFO waits for its writer (and would take it from the reader).
    // O_NONBLOCK as well, should the path become one in between; no effect on a regular file.
    if (!statSync(file).isFile()) return undefined;
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size < minBytes || stat.size < 2 * blockBytes) return undefined;
    const head = Buffer.alloc(4);
    if (readSync(fd, head, 0, 4, 0) < 4) return undefined;
    // gzip's magic (RFC 1952) and UTF-16's and UTF-32's byte order marks (UTF-32LE's begins
    // with UTF-16LE's): gzip-input.ts's cases.
    if (head[0] === 0x1f && head[1] === 0x8b) return undefined;
    if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) return undefined;
    if (head[0] === 0 && head[1] === 0 && head[2] === 0xfe && head[3] === 0xff) return undefined;
    const { size, dev, ino } = stat;
    return Array.from({ length: readers }, (_, index) => ({ index, readers, blockBytes, size, dev, ino }));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
