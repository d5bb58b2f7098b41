// The module's performance, not the global's: `globalThis.performance` is an accessor, a
// function call on every clock read (the chains and chunk checks read it ~16 times a streamed call).
import { performance } from 'node:perf_hooks';
import type { GuardrailOutcome, LlmsecMetrics } from '../metrics.ts';

/**
 * The `llmsec.guardrail.duration` records of the guard chains (guard-runner.ts, chunk-guards.ts).
 * Separate from the chains because it is the one piece of them tuned for allocation (issue 13):
 * a synchronous chain's records are made together from a reused log, after its guards ran.
 */

/** Seconds since `start` (a performance.now() reading). */
export function elapsed(start: number): number {
  return (performance.now() - start) / 1000;
}

/**
 * The duration records of one synchronous chain, made by flush(); at most one per guard. Logs
 * are reused (a chain takes one and flush() returns it), so a chain allocates nothing; a chain
 * that runs while another is open (a guard calling guards) takes its own.
 */
export class DurationLog {
  private static readonly free: DurationLog[] = [];
  private readonly layers: string[] = [];
  private readonly outcomes: GuardrailOutcome[] = [];
  private readonly seconds: number[] = [];
  private size = 0;

  static take(): DurationLog {
    return DurationLog.free.pop() ?? new DurationLog();
  }

  add(layer: string, outcome: GuardrailOutcome, ms: number): void {
    const i = this.size++;
    this.layers[i] = layer;
    this.outcomes[i] = outcome;
    this.seconds[i] = ms / 1000;
  }

  /** Makes the records and gives the log back; the log is not used after this. */
  flush(metrics: LlmsecMetrics): void {
    const n = this.size;
    this.size = 0;
    for (let i = 0; i < n; i++) {
      metrics.recordGuardrailDuration({
        layer: this.layers[i] as string,
        outcome: this.outcomes[i] as GuardrailOutcome,
        seconds: this.seconds[i] as number,
      });
    }
    // Bounded: as many logs as chains were ever open at once, each as long as its longest chain.
    if (DurationLog.free.length < MAX_FREE_LOGS) DurationLog.free.push(this);
  }
}

const MAX_FREE_LOGS = 16;
