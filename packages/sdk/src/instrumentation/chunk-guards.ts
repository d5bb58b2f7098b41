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
 * A built-in chunk check that reads the clock itself (issue 13), only on a delta it may block
 * on: the runner reads the clock before a check for one thing, a block's duration record, and a
 * read costs ~35-40 ns a delta (8 a stream on the bench's answer), where the leakage guard can
 * tell in a few that most deltas cannot leak (leakage-stream.ts `cannotLeak`). The symbol's
 * value is the `checkChunk` that times itself: a host's wrapper (`{ ...guard, checkChunk }`,
 * which copies the symbol too) is another function, may block where the guard would not, and so
 * is timed by the runner as any guard is.
 */
export const CHUNK_SELF_TIMED: unique symbol = Symbol('llmsec.chunkSelfTimed');

/** No clock reading (performance.now() is never negative). */
const UNTIMED = -1;
/** Where a self-timed check marked its start (markChunkStart), or UNTIMED. Checks are synchronous. */
let chunkStart = UNTIMED;

/**
 * A self-timed chunk check's start (CHUNK_SELF_TIMED): it calls this before any work that may
 * block. Harmless outside the runner (a check called directly): the mark is only read after a
 * block, and reset before each check.
 */
export function markChunkStart(): void {
  chunkStart = performance.now();
}

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
    const selfTimed = (guard as { [CHUNK_SELF_TIMED]?: unknown })[CHUNK_SELF_TIMED] === guard.checkChunk;
    chunkStart = UNTIMED;
    const t0 = selfTimed ? UNTIMED : performance.now();
    let decision: OutputDecision;
    try {
      decision = guard.checkChunk(accumulated, delta, ctx);
    } catch (err) {
      reportTelemetryError('guard', err);
      continue;
    }
    const action = decision?.action;
    if (action === 'block') {
      metrics.recordGuardrailDuration({
        layer: guard.layer,
        outcome: 'block',
        seconds: blockSeconds(guard, selfTimed ? chunkStart : t0),
      });
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

/**
 * A chunk block's duration. Untimed: a self-timed check blocked where it had not marked its
 * start, a bug in its estimate (its property tests look for one): the block stands and is
 * recorded, with no duration to give (0), and the miss is reported so that it is seen.
 */
function blockSeconds(guard: OutputGuard, t0: number): number {
  if (t0 !== UNTIMED) return elapsed(t0);
  reportTelemetryError('guard', new Error(`${guard.name}: blocked a chunk without marking its start`));
  return 0;
}
