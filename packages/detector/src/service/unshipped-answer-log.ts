import type { Logger } from './log.ts';
import type { Signal } from './metrics.ts';

export interface UnshippedAnswerLogOptions {
  /** @default Date.now */
  now?: () => number;
  /** Fewest milliseconds between two lines. @default 60000 */
  intervalMs?: number;
}

/**
 * The warning for exports answered at the bound (ANSWER_WAIT_MS) before their events reached
 * Redis. A stalled Redis makes one per export, many a second: the first is logged at once, then
 * at most one line per interval, saying how many since the last (the counter has them all).
 */
export class UnshippedAnswerLog {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private last = -Infinity;
  private pending = 0;

  constructor(log: Logger, options: UnshippedAnswerLogOptions = {}) {
    this.log = log;
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? 60_000;
  }

  answered(_signal: Signal): void {
    this.pending++;
    const t = this.now();
    if (t - this.last < this.intervalMs) return;
    this.last = t;
    this.log.warn(
      'exports answered before their events were shipped to redis (fleet order not guaranteed for them)',
      { exports: this.pending }, // since the last line: the first, or up to a minute's worth
    );
    this.pending = 0;
  }
}
