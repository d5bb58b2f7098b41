// Not the global's accessor: one call less per clock read (guard-durations.ts).
import { performance } from 'node:perf_hooks';
import { reportTelemetryError } from '../errors.ts';
import type { LlmsecMetrics } from '../metrics.ts';
import { elapsed } from './guard-durations.ts';
import { blockOutput, isPromise } from './guard-decisions.ts';
import type { StreamQuotesHook } from './stream-rewriter.ts';
import type { GuardContext, OutputDecision, OutputGuard } from './types.ts';

/**
 * The chunk checks of a streamed response, run on every delta (call-stream.ts). Apart from the
 * whole-payload chains (guard-runner.ts) because they differ in kind: synchronous only, no
 * modify, and besides allow or block they answer how much text to hold back.
 */

/**
 * Streaming: the chunk checks of every output guard that has one. Throws OutputBlockedError to
 * cut; otherwise returns how many trailing characters to hold back (the most any guard asks).
 */
export function runChunkGuards(
  guards: readonly OutputGuard[],
  accumulated: string,
  delta: string,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
): number {
  let hold = 0;
  for (const guard of guards) {
    if (typeof guard.checkChunk !== 'function') continue;
    const t0 = performance.now();
    let decision: OutputDecision;
    try {
      decision = guard.checkChunk(accumulated, delta, ctx);
    } catch (err) {
      reportTelemetryError('guard', err);
      continue;
    }
    const action = decision?.action;
    if (action === 'block') {
      metrics.recordGuardrailDuration({ layer: guard.layer, outcome: 'block', seconds: elapsed(t0) });
      throw blockOutput(guard, decision.reason, decision.severity, ctx);
    }
    if (action === undefined && isPromise(decision as OutputDecision | Promise<OutputDecision>)) {
      // Chunk checks are synchronous (types.ts): a promise can neither hold nor cut this chunk.
      // A guard bug, reported as a throw is; its rejection is handled (else it ends the process).
      (decision as unknown as Promise<OutputDecision>).then(undefined, ignore);
      reportTelemetryError('guard', new TypeError(`${guard.name}: checkChunk returned a promise`));
      continue;
    }
    const held = action === 'allow' ? decision.holdChars : undefined;
    if (typeof held === 'number' && held > hold) hold = held;
  }
  return hold;
}

/**
 * Streaming: the quote hooks (stream-rewriter.ts) on the quotes `quotes[from..]` an item added,
 * before the item is delivered. Throws OutputBlockedError to cut; a hook that throws is reported
 * and read as allow, as a chunk check is.
 */
export function runQuoteChecks(
  hooks: ReadonlyArray<{ guard: OutputGuard; hook: StreamQuotesHook }>,
  quotes: readonly string[],
  from: number,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
): void {
  for (const { guard, hook } of hooks) {
    for (let i = from; i < quotes.length; i++) {
      const t0 = performance.now();
      let decision: OutputDecision;
      try {
        decision = hook.quote(ctx, quotes[i] as string);
      } catch (err) {
        reportTelemetryError('guard', err);
        break;
      }
      if (decision.action === 'block') {
        metrics.recordGuardrailDuration({ layer: guard.layer, outcome: 'block', seconds: elapsed(t0) });
        throw blockOutput(guard, decision.reason, decision.severity, ctx);
      }
    }
  }
}

function ignore(): void {}
