// Not the global's accessor: one call less per clock read (guard-durations.ts).
import { performance } from 'node:perf_hooks';
import { reportTelemetryError } from '../errors.ts';
import type { LlmsecMetrics } from '../metrics.ts';
import { DurationLog, elapsed } from './guard-durations.ts';
import { blockInput, blockOutput, isPromise, outcomeOf } from './guard-decisions.ts';
import type {
  GuardContext,
  GuardDecision,
  GuardInput,
  GuardOutput,
  InputGuard,
  OutputDecision,
  OutputGuard,
} from './types.ts';

/**
 * Runs guards in order. Synchronous guards are called without a promise, so a chain of sync
 * guards costs no microtask; the first guard that returns a promise switches the rest of the
 * chain to async. A guard that throws is a bug in the guard, not a verdict: it is reported to
 * the error funnel and treated as `allow` (telemetry never breaks the call). Every guard's
 * latency is recorded per layer and outcome.
 *
 * Timing (issue 13): in a synchronous chain one clock read ends a guard's time and starts the
 * next one's, and the chain's duration records are made together once its guards have run
 * (DurationLog, guard-durations.ts), before a block is raised or the chain turns async. Each
 * record is one attribute-set hash in the metrics SDK; made back to back they run warm instead
 * of between the guards' own code. Same records, same values: only when they are made changes.
 *
 * This file holds the two whole-payload chains, input and output, side by side (they mirror
 * each other); what a decision becomes is in guard-decisions.ts, the streaming chunk checks in
 * chunk-guards.ts.
 */

// Also exported here: the instrumentation bench loads all three runners from this path, in
// this tree and in older ones (bench/instrumentation/guards.ts).
export { runChunkGuards } from './chunk-guards.ts';

export interface InputResult {
  input: GuardInput;
  modified: boolean;
}

export function runInputGuards(
  guards: readonly InputGuard[],
  start: GuardInput,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
): InputResult | Promise<InputResult> {
  const state: InputResult = { input: start, modified: false };
  const log = DurationLog.take();
  let t0 = performance.now();
  for (let i = 0; i < guards.length; i++) {
    const guard = guards[i] as InputGuard;
    let decision: GuardDecision | Promise<GuardDecision>;
    try {
      ctx.input = state.input;
      decision = guard.check(state.input, ctx);
    } catch (err) {
      reportTelemetryError('guard', err);
      const t1 = performance.now();
      log.add(guard.layer, 'allow', t1 - t0);
      t0 = t1;
      continue;
    }
    if (isPromise(decision)) {
      log.flush(metrics);
      return continueAsync(guards, i, decision, t0, state, ctx, metrics);
    }
    const t1 = performance.now();
    const action = decision?.action;
    log.add(guard.layer, outcomeOf(action), t1 - t0);
    t0 = t1;
    if (action === 'block') {
      log.flush(metrics);
      throw blockInput(guard, decision as Extract<GuardDecision, { action: 'block' }>, state.input, ctx);
    }
    if (action === 'modify') {
      modifyInput(decision as Extract<GuardDecision, { action: 'modify' }>, state);
      t0 = performance.now();
    }
  }
  log.flush(metrics);
  return state;
}

async function continueAsync(
  guards: readonly InputGuard[],
  index: number,
  pending: Promise<GuardDecision>,
  t0: number,
  state: InputResult,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
): Promise<InputResult> {
  let current: Promise<GuardDecision> | GuardDecision = pending;
  let started = t0;
  for (let i = index; i < guards.length; i++) {
    const guard = guards[i] as InputGuard;
    if (i > index) {
      started = performance.now();
      try {
        ctx.input = state.input;
        current = guard.check(state.input, ctx);
      } catch (err) {
        reportTelemetryError('guard', err);
        metrics.recordGuardrailDuration({ layer: guard.layer, outcome: 'allow', seconds: elapsed(started) });
        continue;
      }
    }
    let decision: GuardDecision;
    try {
      decision = await current;
    } catch (err) {
      reportTelemetryError('guard', err);
      metrics.recordGuardrailDuration({ layer: guard.layer, outcome: 'allow', seconds: elapsed(started) });
      continue;
    }
    const action = decision?.action;
    metrics.recordGuardrailDuration({
      layer: guard.layer,
      outcome: outcomeOf(action),
      seconds: elapsed(started),
    });
    if (action === 'block')
      throw blockInput(guard, decision as Extract<GuardDecision, { action: 'block' }>, state.input, ctx);
    if (action === 'modify') modifyInput(decision as Extract<GuardDecision, { action: 'modify' }>, state);
  }
  return state;
}

function modifyInput(decision: Extract<GuardDecision, { action: 'modify' }>, state: InputResult): void {
  const messages = Array.isArray(decision.messages) ? decision.messages : state.input.messages;
  const system = typeof decision.system === 'string' ? decision.system : state.input.system;
  state.input = { ...state.input, messages, system };
  state.modified = true;
}

/** Result of the output guards on a complete response: the replacement text, if any. */
export interface OutputResult {
  text: string | undefined;
  /** The guards whose `modify` made `text`, in order (output-texts.ts rewrites with theirs). */
  by: OutputGuard[];
}

export function runOutputGuards(
  guards: readonly OutputGuard[],
  output: GuardOutput,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
): OutputResult | Promise<OutputResult> {
  // Made on the first modify only: a clean answer (the usual call) shares UNCHANGED (issue 13).
  let state: OutputResult | undefined;
  const log = DurationLog.take();
  let view = output;
  let t0 = performance.now();
  for (let i = 0; i < guards.length; i++) {
    const guard = guards[i] as OutputGuard;
    let decision: OutputDecision | Promise<OutputDecision>;
    try {
      decision = guard.checkResponse(view, ctx);
    } catch (err) {
      reportTelemetryError('guard', err);
      const t1 = performance.now();
      log.add(guard.layer, 'allow', t1 - t0);
      t0 = t1;
      continue;
    }
    if (isPromise(decision)) {
      log.flush(metrics);
      return continueOutputAsync(guards, i, decision, t0, view, state ?? unchanged(), ctx, metrics);
    }
    const t1 = performance.now();
    const action = decision?.action;
    log.add(guard.layer, outcomeOf(action), t1 - t0);
    t0 = t1;
    if (action === 'block') {
      log.flush(metrics);
      throw blockOutput(
        guard,
        (decision as Extract<OutputDecision, { action: 'block' }>).reason,
        (decision as Extract<OutputDecision, { action: 'block' }>).severity,
        ctx,
      );
    }
    if (action === 'modify' && typeof (decision as { text?: unknown }).text === 'string') {
      view = modifyOutput(
        guard,
        decision as Extract<OutputDecision, { action: 'modify' }>,
        view,
        (state ??= unchanged()),
      );
      t0 = performance.now();
    }
  }
  log.flush(metrics);
  return state ?? UNCHANGED;
}

/** A result no guard has modified yet (the async chain and a first modify fill it in). */
function unchanged(): OutputResult {
  return { text: undefined, by: [] };
}

/** What a synchronous chain that modified nothing returns: read only (text undefined: nothing to write back). */
const UNCHANGED: OutputResult = Object.freeze({
  text: undefined,
  by: Object.freeze([]) as unknown as OutputGuard[],
});

async function continueOutputAsync(
  guards: readonly OutputGuard[],
  index: number,
  pending: Promise<OutputDecision>,
  t0: number,
  start: GuardOutput,
  state: OutputResult,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
): Promise<OutputResult> {
  let view = start;
  for (let j = index; j < guards.length; j++) {
    const g = guards[j] as OutputGuard;
    const started = j === index ? t0 : performance.now();
    let d: OutputDecision;
    try {
      d = await (j === index ? pending : g.checkResponse(view, ctx));
    } catch (err) {
      reportTelemetryError('guard', err);
      metrics.recordGuardrailDuration({ layer: g.layer, outcome: 'allow', seconds: elapsed(started) });
      continue;
    }
    const action = d?.action;
    metrics.recordGuardrailDuration({
      layer: g.layer,
      outcome: outcomeOf(action),
      seconds: elapsed(started),
    });
    if (action === 'block') throw blockOutput(g, d.reason, d.severity, ctx);
    if (action === 'modify' && typeof d.text === 'string') view = modifyOutput(g, d, view, state);
  }
  return state;
}

function modifyOutput(
  guard: OutputGuard,
  decision: Extract<OutputDecision, { action: 'modify' }>,
  view: GuardOutput,
  state: OutputResult,
): GuardOutput {
  state.text = decision.text;
  state.by.push(guard);
  return { ...view, text: decision.text };
}
