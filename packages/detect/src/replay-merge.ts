/**
 * The engine's side of a replay read by several reader threads on byte ranges
 * (replay-split.ts): their batches taken in file order. Block k is reader k mod N's; a reader's
 * messages arrive in its order, and the last batch of each of its blocks says how many lines
 * the block had (`blockLines`), so the blocks are taken one reader after the other, and a line
 * numbered n within its block is line (lines of the blocks before) + n of the file.
 *
 * A reader's messages wait here only until its turn; it sends at most its in-flight cap of
 * batches before one is taken (acknowledged), so what waits is bounded by the readers' caps.
 * With one reader (no ranges, no `blockLines`) everything passes straight through.
 * A reader's failure waits for its turn too: the blocks before it in the file, which other
 * readers read, are fed first, and the lines read are counted up to it (the events fed), as
 * one reader counts them before an error.
 */
export interface MergedBatch {
  kind: 'batch';
  /** Set on a block's last batch (ranges only): the block's lines, complete and skipped. */
  blockLines?: number;
  /** The lines read up to this batch's last, its block's own on ranges (a failure's count). */
  lines?: number;
}

/**
 * A reader's failure (ranges): taken in file order too, so that what the other readers read
 * before it in the file is still fed, and the lines read are those of the file up to it.
 */
export interface MergedFailed {
  kind: 'failed';
  message: string;
}

export interface MergedDone {
  kind: 'done';
  lines: number;
  cpuMs: number | undefined;
}

export class ReaderMerge<B extends MergedBatch> {
  private readonly queues: (B | MergedDone | MergedFailed)[][];
  private current = 0;
  /** Lines of the blocks taken so far (ranges only). */
  private offset = 0;
  /** Lines of the current block (the whole input, one reader) in the batches taken of it. */
  private inBlock = 0;
  private readonly readers: number;

  /** The file's lines in the batches taken so far: what a failure says was read. */
  get linesTaken(): number {
    return this.offset + this.inBlock;
  }

  constructor(readers: number) {
    this.readers = readers;
    this.queues = Array.from({ length: readers }, () => []);
  }

  /**
   * Reader `reader`'s next message. `take` gets every batch that is now next in file order
   * (with the number of the file's lines before its block); returns the totals once every
   * reader is done and all was taken, else undefined. A failure comes back when its turn comes,
   * with the file's lines taken before it.
   */
  push(
    reader: number,
    message: B | MergedDone | MergedFailed,
    take: (batch: B, reader: number, linesBefore: number) => void,
  ): { lines: number; cpuMs: number | undefined } | { failed: string; lines: number } | undefined {
    this.queues[reader]!.push(message);
    for (;;) {
      const queue = this.queues[this.current]!;
      const next = queue[0];
      if (next === undefined) return undefined;
      if (next.kind === 'failed') return { failed: next.message, lines: this.offset + this.inBlock };
      if (next.kind === 'done') {
        // The reader whose block would come next has none: every block was taken. The others
        // said done after their last blocks (or will), or failed after them (closing the file).
        const failed = this.queues.find((q) => q[0]?.kind === 'failed')?.[0] as MergedFailed | undefined;
        if (failed !== undefined) return { failed: failed.message, lines: this.offset };
        if (!this.queues.every((q) => q[0]?.kind === 'done')) return undefined;
        const dones = this.queues.map((q) => q[0] as MergedDone);
        const cpu = dones.every((d) => d.cpuMs !== undefined)
          ? dones.reduce((sum, d) => sum + d.cpuMs!, 0)
          : undefined;
        return { lines: this.readers > 1 ? this.offset : dones[0]!.lines, cpuMs: cpu };
      }
      queue.shift();
      take(next, this.current, this.offset);
      if (next.lines !== undefined) this.inBlock = next.lines;
      if (next.blockLines !== undefined && this.readers > 1) {
        this.offset += next.blockLines;
        this.inBlock = 0;
        this.current = (this.current + 1) % this.readers;
      }
    }
  }
}
