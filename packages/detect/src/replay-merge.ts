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
 */
export interface MergedBatch {
  kind: 'batch';
  /** Set on a block's last batch (ranges only): the block's lines, complete and skipped. */
  blockLines?: number;
}

export interface MergedDone {
  kind: 'done';
  lines: number;
  cpuMs: number | undefined;
}

export class ReaderMerge<B extends MergedBatch> {
  private readonly queues: (B | MergedDone)[][];
  private current = 0;
  /** Lines of the blocks taken so far (ranges only). */
  private offset = 0;
  private readonly readers: number;

  constructor(readers: number) {
    this.readers = readers;
    this.queues = Array.from({ length: readers }, () => []);
  }

  /**
   * Reader `reader`'s next message. `take` gets every batch that is now next in file order
   * (with the number of the file's lines before its block); returns the totals once every
   * reader is done and all was taken, else undefined.
   */
  push(
    reader: number,
    message: B | MergedDone,
    take: (batch: B, reader: number, linesBefore: number) => void,
  ): { lines: number; cpuMs: number | undefined } | undefined {
    this.queues[reader]!.push(message);
    for (;;) {
      const queue = this.queues[this.current]!;
      const next = queue[0];
      if (next === undefined) return undefined;
      if (next.kind === 'done') {
        // The reader whose block would come next has none: every block was taken. The others
        // said done after their last blocks (or will).
        if (!this.queues.every((q) => q[0]?.kind === 'done')) return undefined;
        const dones = this.queues.map((q) => q[0] as MergedDone);
        const cpu = dones.every((d) => d.cpuMs !== undefined)
          ? dones.reduce((sum, d) => sum + d.cpuMs!, 0)
          : undefined;
        return { lines: this.readers > 1 ? this.offset : dones[0]!.lines, cpuMs: cpu };
      }
      queue.shift();
      take(next, this.current, this.offset);
      if (next.blockLines !== undefined && this.readers > 1) {
        this.offset += next.blockLines;
        this.current = (this.current + 1) % this.readers;
      }
    }
  }
}
