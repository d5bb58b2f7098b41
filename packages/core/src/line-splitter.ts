import type { Readable } from 'node:stream';

/**
 * Complete lines of a byte chunk are decoded at most this many bytes at a time (more only for a
 * longer line). A string of a whole 512 KiB read is a large object, allocated outside the young
 * generation and parsed from memory the decode has already left behind in the cache: splitting
 * 1 M lines (696 MB) cost 0.57 s of CPU in 512 KiB strings, 0.30 s in 64 KiB ones.
 */
const DECODE_WINDOW_BYTES = 64 << 10;

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
  /**
   * The input starts at a line boundary inside a file, not at its start (a reader of one byte
   * range of it): a U+FEFF there is its first line's, not a byte order mark, and is kept.
   * @default false
   */
  continuation?: boolean;
}

/**
 * Splits a stream's chunks into lines (LF or CRLF; the last line may lack its newline) and
 * calls `onLine(line, lineNumber)` for each, in linear time and bounded memory on hostile
 * input:
 * - byte chunks are cut at their last newline and their complete lines decoded from UTF-8 in
 *   windows of DECODE_WINDOW_BYTES, each cut after a newline (a newline byte never occurs
 *   inside a multi-byte character, so no string decoder is needed);
 * - a line cut between chunks is kept as a list of pieces and joined once, when its newline
 *   arrives (no re-concatenation per chunk, no re-scan of what was already searched);
 * - a line longer than `maxLineBytes` is dropped as soon as it passes the limit (its pieces
 *   are released) and reported with its line number when it ends.
 * String chunks (a stream with an encoding set, or Readable.from(strings)) work the same way.
 * A byte order mark at the start of the input is dropped.
 * Faster than readline, whose per-line overhead exceeds the decoding at replay speed.
 */
export class LineSplitter {
  private readonly onLine: (line: string, lineNumber: number) => void;
  private readonly onOverlong: ((lineNumber: number, bytes: number) => void) | undefined;
  private readonly max: number;
  /** Whether a byte order mark before the first line is dropped (not a continuation). */
  private readonly dropMark: boolean;
  /** A line of at most max/3 UTF-16 units is at most `max` UTF-8 bytes: only longer ones are measured. */
  private readonly safeUnits: number;
  private lineNumber = 0;
  /** The line in progress (cut by a chunk boundary), as the pieces it arrived in. */
  private pending: (Buffer | string)[] = [];
  private pendingBytes = 0;
  /** The line in progress passed the limit: its bytes are counted, not kept. */
  private overlong = false;
  /** The last byte held was a CR (the line's length leaves out a CR before its newline). */
  private endsWithCr = false;

  constructor(onLine: (line: string, lineNumber: number) => void, options: LineReaderOptions = {}) {
    const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!(max > 0)) throw new RangeError(`maxLineBytes must be > 0, got ${String(max)}`);
    this.onLine = onLine;
    this.onOverlong = options.onOverlong;
    this.max = max;
    this.dropMark = options.continuation !== true;
    this.safeUnits = Math.floor(max / 3);
  }

  /** Lines seen so far (complete and skipped). */
  get lines(): number {
    return this.lineNumber;
  }

  push(chunk: Buffer | string): void {
    if (typeof chunk === 'string') {
      let from = 0;
      if (this.pendingBytes > 0 || this.overlong) {
        const first = chunk.indexOf('\n');
        if (first === -1) {
          this.hold(chunk);
          return;
        }
        this.finishPending(chunk.slice(0, first));
        from = first + 1;
      }
      const last = chunk.lastIndexOf('\n');
      if (last < from) {
        if (from < chunk.length) this.hold(chunk.slice(from));
        return;
      }
      this.splitComplete(from === 0 && last === chunk.length - 1 ? chunk : chunk.slice(from, last + 1));
      if (last + 1 < chunk.length) this.hold(chunk.slice(last + 1));
      return;
    }
    let from = 0;
    if (this.pendingBytes > 0 || this.overlong) {
      // Only the line cut by the previous chunk is joined, never the whole chunk.
      const first = chunk.indexOf(10);
      if (first === -1) {
        this.hold(chunk);
        return;
      }
      this.finishPending(chunk.subarray(0, first));
      from = first + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last < from) {
      if (from < chunk.length) this.hold(chunk.subarray(from));
      return;
    }
    // Up to and including the last newline: every line in it is complete. Decoded a window at a
    // time, each cut after its own last newline (see DECODE_WINDOW_BYTES).
    while (from <= last) {
      let cut = last;
      if (last - from >= DECODE_WINDOW_BYTES) {
        cut = chunk.lastIndexOf(10, from + DECODE_WINDOW_BYTES - 1);
        // No newline in the window (a line longer than it): up to the line's own newline.
        if (cut < from) cut = chunk.indexOf(10, from + DECODE_WINDOW_BYTES);
      }
      this.splitComplete(chunk.toString('utf8', from, cut + 1));
      from = cut + 1;
    }
    if (last + 1 < chunk.length) this.hold(chunk.subarray(last + 1));
  }

  /** End of input: the last line, if it had no newline. */
  end(): void {
    if (this.pendingBytes > 0 || this.overlong) this.finishPending('');
  }

  private overlongLine(bytes: number): void {
    this.lineNumber++;
    this.onOverlong?.(this.lineNumber, bytes);
  }

  private completeLine(line: string): void {
    this.lineNumber++;
    // A UTF-8 byte order mark before the first line (Notepad, PowerShell 5's Out-File) is not
    // the line's: left in, it made the first event a malformed JSON line.
    if (this.lineNumber === 1 && line.charCodeAt(0) === 0xfeff && this.dropMark) line = line.slice(1);
    this.onLine(
      line.length > 0 && line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line,
      this.lineNumber,
    );
  }

  private hold(piece: Buffer | string): void {
    const bytes = typeof piece === 'string' ? Buffer.byteLength(piece, 'utf8') : piece.length;
    if (bytes === 0) return;
    this.pendingBytes += bytes;
    this.endsWithCr =
      typeof piece === 'string' ? piece.charCodeAt(piece.length - 1) === 13 : piece[piece.length - 1] === 13;
    if (this.overlong) return;
    if (this.pendingBytes > this.max + 1 /* a CR before the newline is not part of the line */) {
      this.overlong = true;
      this.pending = [];
      return;
    }
    this.pending.push(piece);
  }

  /** The newline of the pending line arrived; `tail` is what came before it in this chunk. */
  private finishPending(tail: Buffer | string): void {
    this.hold(tail);
    const length = this.endsWithCr ? this.pendingBytes - 1 : this.pendingBytes;
    const pieces = this.pending;
    const wasOverlong = this.overlong;
    this.pending = [];
    this.pendingBytes = 0;
    this.overlong = false;
    this.endsWithCr = false;
    if (wasOverlong || length > this.max) this.overlongLine(length);
    else this.completeLine(joinPieces(pieces));
  }

  /** `text` ends with a newline: every line in it is complete. */
  private splitComplete(text: string): void {
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      if (nl - start > this.safeUnits) {
        const line = text.slice(start, nl);
        const bytes = Buffer.byteLength(line.endsWith('\r') ? line.slice(0, -1) : line, 'utf8');
        if (bytes > this.max) this.overlongLine(bytes);
        else this.completeLine(line);
      } else {
        this.completeLine(text.slice(start, nl));
      }
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
  }
}

/** Calls `onLine(line, lineNumber)` for every line of the stream (see LineSplitter). */
export async function forEachLine(
  input: Readable,
  onLine: (line: string, lineNumber: number) => void,
  options: LineReaderOptions = {},
): Promise<void> {
  const splitter = new LineSplitter(onLine, options);
  for await (const chunk of input as AsyncIterable<string | Buffer>) splitter.push(chunk);
  splitter.end();
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
