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
  let result: InputResult | Promise<InputResult> | undefined;
  if (guards.length > 0) {
    result = runInputGuards(guards, call.guardView(), call.ctx, call.runtime.metrics);
  }
  const after = (r: InputResult | undefined): Promise<void> | undefined => {
    if (r?.modified === true)
      options.body = call.adapter.applyInput(
        obj(options.body) ?? call.body,
        r.input.messages,
        r.input.system,
      );
    return acquireLease(call);
  };
  if (result instanceof Promise) return result.then(after);
  return after(result);
}
