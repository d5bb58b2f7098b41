import { open } from 'node:fs/promises';
import { LineSplitter } from '@llmsec/core/jsonl';
import type { ReaderRange } from './replay-split.ts';

/**
 * One reader's blocks of a file split by byte ranges (replay-split.ts): block k is the lines
 * whose first byte is in [k * B, (k + 1) * B), B the block size. Its reader
 * - finds its first line: the byte after the first newline at or after k * B - 1, looked for
 *   only before (k + 1) * B - 1 (none there: no line starts in the block, which is then empty;
 *   a line longer than many blocks is searched once per block, not once per block it spans);
 * - splits from there to (k + 1) * B, then on to the first newline at or after (k + 1) * B - 1
 *   (the rest of the block's last line, however long: LineSplitter drops an over-long one as it
 *   goes), or to the end of the file;
 * - the last block reads on to the end of the file, wherever that is by then.
 * A log still written grows while it is read: which block a line belongs to is decided on the
 * bytes below the size the replay began with (`range.size`), which appending does not change.
 * The last block's first line is after a newline below that size; with none there, the line
 * running across it is an earlier block's, and that block reads on to the end of the file
 * instead (else one reader could cut that line at an end of file it saw early and another
 * read on past the rest of it, or the line's rest and what follows could be read by none).
 * A file cut below that size, or another file renamed to its path, fails the reader: its
 * blocks would be lost or another file's.
 * So every byte is read at most twice (by its block's reader, and by the previous block's when
 * a line crosses the cut), every line by one reader, whole, with what LineSplitter does to it
 * (CR, over-long lines; a U+FEFF starting a block other than the first is its line's).
 * Line numbers given are the block's own, from 1; the engine's side adds the lines before.
 */

export interface BlockSink {
  onLine(line: string, lineNumber: number): void;
  onOverlong(lineNumber: number, bytes: number): void;
  /** The block's lines (complete and skipped) are all given: how many there were. */
  onBlockEnd(lines: number): void;
  /** After each chunk given to the splitter: the caller's flow control (it may wait). */
  between(): Promise<void> | void;
}

/** Reads of 512 KiB, as the stream reader's: a string decoded from one stays in the young generation. */
const READ_BYTES = 512 << 10;
/** Past a block's end, the rest of its last line is usually short: read that much first. */
const TAIL_READ_BYTES = 16 << 10;

export async function readBlocks(
  file: string,
  range: ReaderRange,
  maxLineBytes: number,
  sink: BlockSink,
): Promise<void> {
  const { index, readers, blockBytes: B, size } = range;
  const blocks = Math.max(1, Math.ceil(size / B));
  const handle = await open(file, 'r');
  try {
    const opened = await handle.stat();
    if (opened.dev !== range.dev || opened.ino !== range.ino) {
      throw new Error(
        `${file} was replaced while the replay was starting (another file is at its path, a log rotation?); replay it again`,
      );
    }
    /** `length` bytes at `position` (fewer at the end of the file), in a buffer of their own:
     *  the splitter may hold a piece of it while a line is cut between reads. */
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      // Other readers may have read the blocks before: what was cut is lost to this one, or
      // rewritten (copytruncate) and mixed with the old lines. (A short read is taken for a cut
      // only when the file says so: a network file system may return fewer bytes mid-file.)
      if (bytesRead < length && position + bytesRead < size && (await handle.stat()).size < size) {
        throw new Error(
          `${file} shrank below the ${size} bytes it had when the replay began (truncated while read?)`,
        );
      }
      return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
    };
    for (let k = index; k < blocks; k += readers) {
      const last = k === blocks - 1;
      const end = (k + 1) * B;
      const splitter = new LineSplitter(sink.onLine, {
        maxLineBytes,
        onOverlong: sink.onOverlong,
        continuation: k > 0,
      });
      let position = k === 0 ? 0 : k * B - 1;
      let started = k === 0;
      let atEof = false;
      let endsWithNewline = false;
      // The block's own bytes (all of the file's rest for the last block).
      while (last || position < end) {
        const chunk = await read(position, last ? READ_BYTES : Math.min(READ_BYTES, end - position));
        if (chunk.length === 0) {
          atEof = true;
          break;
        }
        position += chunk.length;
        let from = 0;
        if (!started) {
          const nl = chunk.indexOf(10);
          if (nl === -1) {
            // The last block: no newline below the size planned, so no line of its own.
            if (last && position >= size) break;
            continue;
          }
          // The line after it starts at or after the block's end (for the last block, after
          // the size planned): the block has no line.
          if (position - chunk.length + nl + 1 >= (last ? size + 1 : end)) break;
          started = true;
          from = nl + 1;
        }
        if (from < chunk.length) {
          splitter.push(from === 0 ? chunk : chunk.subarray(from));
          endsWithNewline = chunk[chunk.length - 1] === 10;
          await sink.between();
        }
      }
      // The rest of the block's last line, read in growing pieces up to the read size.
      if (started && !last && !atEof && !endsWithNewline && position >= end) {
        for (let want = TAIL_READ_BYTES; ; want = Math.min(want * 2, READ_BYTES)) {
          const chunk = await read(position, want);
          if (chunk.length === 0) break;
          const at = position;
          position += chunk.length;
          const nl = chunk.indexOf(10);
          if (nl !== -1 && at + nl < size) {
            splitter.push(chunk.subarray(0, nl + 1));
            await sink.between();
            break;
          }
          // No newline below the size planned: the line runs past it, the last block has no
          // line of its own, and this block reads on to the end of the file in its stead.
          splitter.push(chunk);
          await sink.between();
        }
      }
      if (started) splitter.end();
      sink.onBlockEnd(splitter.lines);
    }
  } finally {
    await handle.close();
  }
}
