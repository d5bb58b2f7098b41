import type { Readable } from 'node:stream';

/** @default 1 MiB: an event line with both 500-character previews is a few KiB. */
export const DEFAULT_MAX_LINE_BYTES = 1 << 20;

export interface LineReaderOptions {
  /**
   * Longest line accepted, in UTF-8 bytes (without its newline). A longer line is skipped
   * whole, without being held in memory, and reported to `onOverlong`; reading goes on.
   * @default 1 MiB (DEFAULT_MAX_LINE_BYTES)
   */
  maxLineBytes?: number;
  /** A skipped line: its 1-based number and its length in bytes. */
  onOverlong?: (lineNumber: number, bytes: number) => void;
}

/**
 * Calls `onLine(line, lineNumber)` for every line of the stream (LF or CRLF; the last line may
 * lack its newline), without readline, whose per-line overhead exceeds the decoding at replay
 * speed. Linear time and bounded memory on hostile input:
 * - byte chunks are cut at their last newline and decoded from UTF-8 in one piece (a newline
 *   byte never occurs inside a multi-byte character, so no string decoder is needed);
 * - a line cut between chunks is kept as a list of pieces and joined once, when its newline
 *   arrives (no re-concatenation per chunk, no re-scan of what was already searched);
 * - a line longer than `maxLineBytes` is dropped as soon as it passes the limit (its pieces
 *   are released) and reported with its line number when it ends.
 * String chunks (a stream with an encoding set, or Readable.from(strings)) work the same way.
 */
export async function forEachLine(
  input: Readable,
  onLine: (line: string, lineNumber: number) => void,
  options: LineReaderOptions = {},
): Promise<void> {
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!(max > 0)) throw new RangeError(`forEachLine: maxLineBytes must be > 0, got ${String(max)}`);
  // A line of at most max/3 UTF-16 units is at most `max` UTF-8 bytes: only longer ones are measured.
  const safeUnits = Math.floor(max / 3);
  const onOverlong = options.onOverlong;
  let lineNumber = 0;
  /** The line in progress (cut by a chunk boundary), as the pieces it arrived in. */
  let pending: (Buffer | string)[] = [];
  let pendingBytes = 0;
  /** The line in progress passed the limit: its bytes are counted, not kept. */
  let overlong = false;
  /** The last byte held was a CR (the line's length leaves out a CR before its newline). */
  let endsWithCr = false;

  const overlongLine = (bytes: number): void => {
    lineNumber++;
    onOverlong?.(lineNumber, bytes);
  };
  const completeLine = (line: string): void => {
    lineNumber++;
    onLine(line.length > 0 && line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line, lineNumber);
  };
  const hold = (piece: Buffer | string): void => {
    const bytes = typeof piece === 'string' ? Buffer.byteLength(piece, 'utf8') : piece.length;
    if (bytes === 0) return;
    pendingBytes += bytes;
    endsWithCr =
      typeof piece === 'string' ? piece.charCodeAt(piece.length - 1) === 13 : piece[piece.length - 1] === 13;
    if (overlong) return;
    if (pendingBytes > max + 1 /* a CR before the newline is not part of the line */) {
      overlong = true;
      pending = [];
      return;
    }
    pending.push(piece);
  };
  /** The newline of the pending line arrived; `tail` is what came before it in this chunk. */
  const finishPending = (tail: Buffer | string): void => {
    hold(tail);
    const length = endsWithCr ? pendingBytes - 1 : pendingBytes;
    const pieces = pending;
    const wasOverlong = overlong;
    pending = [];
    pendingBytes = 0;
    overlong = false;
    endsWithCr = false;
    if (wasOverlong || length > max) overlongLine(length);
    else completeLine(joinPieces(pieces));
  };
  /** `text` ends with a newline: every line in it is complete. */
  const splitComplete = (text: string): void => {
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      if (nl - start > safeUnits) {
        const line = text.slice(start, nl);
        const bytes = Buffer.byteLength(line.endsWith('\r') ? line.slice(0, -1) : line, 'utf8');
        if (bytes > max) overlongLine(bytes);
        else completeLine(line);
      } else {
        completeLine(text.slice(start, nl));
      }
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
  };

  for await (const chunk of input as AsyncIterable<string | Buffer>) {
    if (typeof chunk === 'string') {
      let from = 0;
      if (pendingBytes > 0 || overlong) {
        const first = chunk.indexOf('\n');
        if (first === -1) {
          hold(chunk);
          continue;
        }
        finishPending(chunk.slice(0, first));
        from = first + 1;
      }
      const last = chunk.lastIndexOf('\n');
      if (last < from) {
        if (from < chunk.length) hold(chunk.slice(from));
        continue;
      }
      splitComplete(from === 0 && last === chunk.length - 1 ? chunk : chunk.slice(from, last + 1));
      if (last + 1 < chunk.length) hold(chunk.slice(last + 1));
    } else {
      let from = 0;
      if (pendingBytes > 0 || overlong) {
        // Only the line cut by the previous chunk is joined, never the whole chunk.
        const first = chunk.indexOf(10);
        if (first === -1) {
          hold(chunk);
          continue;
        }
        finishPending(chunk.subarray(0, first));
        from = first + 1;
      }
      const last = chunk.lastIndexOf(10);
      if (last < from) {
        if (from < chunk.length) hold(chunk.subarray(from));
        continue;
      }
      // Up to and including the last newline: every line in it is complete.
      splitComplete(chunk.toString('utf8', from, last + 1));
      if (last + 1 < chunk.length) hold(chunk.subarray(last + 1));
    }
  }
  // The last line, without a newline.
  if (pendingBytes > 0 || overlong) finishPending('');
}

/** One string from the pieces of a line; adjacent byte pieces are decoded together (a
 * multi-byte character may be cut between them). */
function joinPieces(pieces: (Buffer | string)[]): string {
  if (pieces.length === 1) {
    const only = pieces[0]!;
    return typeof only === 'string' ? only : only.toString('utf8');
  }
  let out = '';
  let bytes: Buffer[] = [];
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      if (bytes.length > 0) {
        out += Buffer.concat(bytes).toString('utf8');
        bytes = [];
      }
      out += piece;
    } else {
      bytes.push(piece);
    }
  }
  if (bytes.length > 0) out += Buffer.concat(bytes).toString('utf8');
  return out;
}
