import { obj, type ProviderAdapter } from './adapter.ts';
import { runInputGuards, type InputResult } from './guard-runner.ts';
import { acquireLease, type LeaseHolder } from './lease.ts';
import type { GuardContext, GuardInput } from './types.ts';

/** What the input phase needs from its call (LlmCall implements it). */
export interface InputPhaseCall extends LeaseHolder {
  readonly adapter: ProviderAdapter;
  readonly ctx: GuardContext;
  guardView(): GuardInput;
}

/**
 * Before the request leaves (the prepare hook, prepare-hook.ts): the input guards, which may
 * rewrite the request body or block it, then the rate-limit lease. Synchronous when the guards
 * and the limiter are; a promise only when one of them returns one. Runs once per call: the
 * call (call.ts) keeps its result for retries.
 */
export function runInputPhase(call: InputPhaseCall, options: { body?: unknown }): Promise<void> | undefined {
  const guards = call.adapter.guarded ? call.runtime.inputGuards : [];
  if (guards.length === 0) return acquireLease(call);
  const result = runInputGuards(guards, call.guardView(), call.ctx, call.runtime.metrics);
  // The synchronous chain (the defaults') goes on without a closure or a context made per
  // call (issue 13): the one closure is made in a function of its own, for async guards only.
  if (result instanceof Promise) return afterAsyncGuards(result, call, options);
  return afterInputGuards(call, options, result);
}

function afterAsyncGuards(
  result: Promise<InputResult>,
  call: InputPhaseCall,
  options: { body?: unknown },
): Promise<void> {
  return result.then((r) => afterInputGuards(call, options, r));
}

/** The guards' rewrite put on the request body, then the lease. */
function afterInputGuards(
  call: InputPhaseCall,
  options: { body?: unknown },
  r: InputResult,
): Promise<void> | undefined {
  if (r.modified)
    options.body = call.adapter.applyInput(obj(options.body) ?? call.body, r.input.messages, r.input.system);
  return acquireLease(call);
}
