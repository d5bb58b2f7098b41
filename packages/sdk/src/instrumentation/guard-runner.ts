import { reportTelemetryError } from '../errors.ts';
import type { LlmsecMetrics } from '../metrics.ts';
import { GuardrailBlockedError, OutputBlockedError } from './errors.ts';
import type { GuardContext, GuardDecision, GuardInput, GuardOutput, InputGuard, OutputDecision, OutputGuard } from './types.ts';

/**
 * Runs guards in order. Synchronous guards are called without a promise, so a chain of sync
 * guards costs no microtask; the first guard that returns a promise switches the rest of the
 * chain to async. A guard that throws is a bug in the guard, not a verdict: it is reported to
 * the error funnel and treated as `allow` (telemetry never breaks the call). Every guard's
 * latency is recorded per layer and outcome.
 */

export interface InputResult {
  input: GuardInput;
  modified: boolean;
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

function elapsed(start: number): number {
  return (performance.now() - start) / 1000;
}

export function runInputGuards(
  guards: readonly InputGuard[],
  start: GuardInput,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
): InputResult | Promise<InputResult> {
  const state: InputResult = { input: start, modified: false };
  for (let i = 0; i < guards.length; i++) {
    const guard = guards[i] as InputGuard;
    const t0 = performance.now();
    let decision: GuardDecision | Promise<GuardDecision>;
    try {
      ctx.input = state.input;
      decision = guard.check(state.input, ctx);
    } catch (err) {
      reportTelemetryError('guard', err);
      metrics.recordGuardrailDuration({ layer: guard.layer, outcome: 'allow', seconds: elapsed(t0) });
      continue;
    }
    if (isPromise(decision)) return continueAsync(guards, i, decision, t0, state, ctx, metrics);
    applyInput(guard, decision, state, ctx, metrics, t0);
  }
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
    applyInput(guard, decision, state, ctx, metrics, started);
  }
  return state;
}

function applyInput(
  guard: InputGuard,
  decision: GuardDecision,
  state: InputResult,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
  t0: number,
): void {
  const action = decision?.action;
  metrics.recordGuardrailDuration({ layer: guard.layer, outcome: action === 'block' || action === 'modify' ? action : 'allow', seconds: elapsed(t0) });
  if (action === 'block') {
    const reason = String(decision.reason);
    const event = ctx.emit('guardrail_block', {
      ...(decision.severity !== undefined ? { severity: decision.severity } : {}),
      // The blocked payload: its length and fingerprint are recorded even with previews
      // off, for the escalation and coordinated-campaign rules.
      requestText: lastUserText(state.input),
      description: `input blocked by ${guard.name}`,
      metadata: { guardrail_layer: guard.layer, block_reason: reason },
    });
    throw new GuardrailBlockedError(guard.layer, reason, event);
  }
  if (action === 'modify') {
    const messages = Array.isArray(decision.messages) ? decision.messages : state.input.messages;
    const system = typeof decision.system === 'string' ? decision.system : state.input.system;
    state.input = { ...state.input, messages, system };
    state.modified = true;
  }
}

/** Result of the output guards on a complete response: the replacement text, if any. */
export interface OutputResult {
  text: string | undefined;
}

export function runOutputGuards(
  guards: readonly OutputGuard[],
  output: GuardOutput,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
): OutputResult | Promise<OutputResult> {
  const state: OutputResult = { text: undefined };
  let view = output;
  for (let i = 0; i < guards.length; i++) {
    const guard = guards[i] as OutputGuard;
    const t0 = performance.now();
    let decision: OutputDecision | Promise<OutputDecision>;
    try {
      decision = guard.checkResponse(view, ctx);
    } catch (err) {
      reportTelemetryError('guard', err);
      metrics.recordGuardrailDuration({ layer: guard.layer, outcome: 'allow', seconds: elapsed(t0) });
      continue;
    }
    if (isPromise(decision)) {
      return (async () => {
        for (let j = i; j < guards.length; j++) {
          const g = guards[j] as OutputGuard;
          const started = j === i ? t0 : performance.now();
          let d: OutputDecision;
          try {
            d = await (j === i ? decision : g.checkResponse(view, ctx));
          } catch (err) {
            reportTelemetryError('guard', err);
            metrics.recordGuardrailDuration({ layer: g.layer, outcome: 'allow', seconds: elapsed(started) });
            continue;
          }
          view = applyOutput(g, d, view, state, ctx, metrics, started);
        }
        return state;
      })();
    }
    view = applyOutput(guard, decision, view, state, ctx, metrics, t0);
  }
  return state;
}

function applyOutput(
  guard: OutputGuard,
  decision: OutputDecision,
  view: GuardOutput,
  state: OutputResult,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
  t0: number,
): GuardOutput {
  const action = decision?.action;
  metrics.recordGuardrailDuration({ layer: guard.layer, outcome: action === 'block' || action === 'modify' ? action : 'allow', seconds: elapsed(t0) });
  if (action === 'block') throw blockOutput(guard, decision.reason, decision.severity, ctx);
  if (action === 'modify' && typeof decision.text === 'string') {
    state.text = decision.text;
    return { ...view, text: decision.text };
  }
  return view;
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
    const t0 = performance.now();
    let decision: OutputDecision;
    try {
      decision = guard.checkChunk(accumulated, delta, ctx);
    } catch (err) {
      reportTelemetryError('guard', err);
      continue;
    }
    if (decision?.action === 'block') {
      metrics.recordGuardrailDuration({ layer: guard.layer, outcome: 'block', seconds: elapsed(t0) });
      throw blockOutput(guard, decision.reason, decision.severity, ctx);
    }
    const held = decision?.action === 'allow' ? decision.holdChars : undefined;
    if (typeof held === 'number' && held > hold) hold = held;
  }
  return hold;
}

function blockOutput(guard: OutputGuard, reasonRaw: unknown, severity: GuardDecisionSeverity, ctx: GuardContext): OutputBlockedError {
  const reason = String(reasonRaw);
  const event = ctx.emit('output_filter_block', {
    ...(severity !== undefined ? { severity } : {}),
    requestText: lastUserText(ctx.input),
    description: `response blocked by ${guard.name}`,
    metadata: { filter_name: guard.layer, block_reason: reason },
  });
  return new OutputBlockedError(guard.layer, reason, event);
}

type GuardDecisionSeverity = Extract<OutputDecision, { action: 'block' }>['severity'];

/** The newest user message: the payload an attacker varies from one attempt to the next. */
function lastUserText(input: GuardInput): string {
  for (let i = input.messages.length - 1; i >= 0; i--) {
    const message = input.messages[i]!;
    if (message.role === 'user') return message.content;
  }
  return '';
}
