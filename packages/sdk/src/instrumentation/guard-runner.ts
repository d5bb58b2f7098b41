import { reportTelemetryError } from '../errors.ts';
import type { GuardrailOutcome, LlmsecMetrics } from '../metrics.ts';
import { GuardrailBlockedError, OutputBlockedError } from './errors.ts';
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
 * (DurationLog), before a block is raised or the chain turns async. Each record is one
 * attribute-set hash in the metrics SDK; made back to back they run warm instead of between
 * the guards' own code. Same records, same values: only when they are made changes.
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

function outcomeOf(action: unknown): GuardrailOutcome {
  return action === 'block' || action === 'modify' ? action : 'allow';
}

/**
 * The duration records of one synchronous chain, made by flush(); at most one per guard. Logs
 * are reused (a chain takes one and flush() returns it), so a chain allocates nothing; a chain
 * that runs while another is open (a guard calling guards) takes its own.
 */
class DurationLog {
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
      throw blockInput(guard, decision as Extract<GuardDecision, { action: 'block' }>, state, ctx);
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
      throw blockInput(guard, decision as Extract<GuardDecision, { action: 'block' }>, state, ctx);
    if (action === 'modify') modifyInput(decision as Extract<GuardDecision, { action: 'modify' }>, state);
  }
  return state;
}

function blockInput(
  guard: InputGuard,
  decision: Extract<GuardDecision, { action: 'block' }>,
  state: InputResult,
  ctx: GuardContext,
): GuardrailBlockedError {
  const reason = String(decision.reason);
  const event = ctx.emit('guardrail_block', {
    ...(decision.severity !== undefined ? { severity: decision.severity } : {}),
    // The blocked payload: its length and fingerprint are recorded even with previews
    // off, for the escalation and coordinated-campaign rules.
    requestText: lastUserText(state.input),
    description: `input blocked by ${guard.name}`,
    metadata: { guardrail_layer: guard.layer, block_reason: reason },
  });
  return new GuardrailBlockedError(guard.layer, reason, event);
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
}

export function runOutputGuards(
  guards: readonly OutputGuard[],
  output: GuardOutput,
  ctx: GuardContext,
  metrics: LlmsecMetrics,
): OutputResult | Promise<OutputResult> {
  const state: OutputResult = { text: undefined };
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
      return continueOutputAsync(guards, i, decision, t0, view, state, ctx, metrics);
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
      view = modifyOutput(decision as Extract<OutputDecision, { action: 'modify' }>, view, state);
      t0 = performance.now();
    }
  }
  log.flush(metrics);
  return state;
}

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
    if (action === 'modify' && typeof d.text === 'string') view = modifyOutput(d, view, state);
  }
  return state;
}

function modifyOutput(
  decision: Extract<OutputDecision, { action: 'modify' }>,
  view: GuardOutput,
  state: OutputResult,
): GuardOutput {
  state.text = decision.text;
  return { ...view, text: decision.text };
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

function ignore(): void {}

function blockOutput(
  guard: OutputGuard,
  reasonRaw: unknown,
  severity: GuardDecisionSeverity,
  ctx: GuardContext,
): OutputBlockedError {
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
