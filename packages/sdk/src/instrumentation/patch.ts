import { diag } from '@opentelemetry/api';
import { reportTelemetryError } from '../errors.ts';
import type { Body, ProviderAdapter } from './adapter.ts';
import { LlmCall } from './call.ts';
import { ensurePrepareHook } from './prepare-hook.ts';
import type { LlmRuntime } from './runtime.ts';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * True while an instrumented method is running synchronously: a second instrumented layer
 * (an instance-wrapped client whose prototype is wrapped too) passes straight through, so a
 * call is recorded once. Async work (a guard that itself calls an LLM) is not affected.
 */
let insideInvoke = false;
let warnedNoHook = false;

/**
 * Wraps a client method (`create`) so that each call gets an LlmCall. Any failure of ours
 * before the original runs falls back to the original; the original's own errors are
 * recorded and rethrown unchanged; the library's return value is returned (as the same kind).
 */
export function wrapCreate(
  getRuntime: () => LlmRuntime | undefined,
  adapter: ProviderAdapter,
  original: Method,
): Method {
  return function llmsecInstrumentedCreate(this: unknown, ...args: unknown[]): unknown {
    const runtime = getRuntime();
    const body = args[0];
    if (
      insideInvoke ||
      runtime === undefined ||
      !runtime.enabled ||
      typeof body !== 'object' ||
      body === null
    ) {
      return original.apply(this, args);
    }
    let call: LlmCall;
    try {
      const client = (this as { _client?: unknown } | null)?._client;
      if (adapter.provider === 'anthropic' && runtime.suppressAnthropicSpans) suppressBuiltInSpans(client);
      if (runtime.needsInputPhase && !ensurePrepareHook(client) && !warnedNoHook) {
        warnedNoHook = true;
        diag.warn(
          'llmsec: this client has no prepareOptions(); input guards and the rate limiter cannot run before its requests',
        );
      }
      call = new LlmCall(runtime, adapter, body as Body, client);
    } catch (err) {
      reportTelemetryError('instrumentation', err);
      return original.apply(this, args);
    }
    let result: unknown;
    insideInvoke = true;
    try {
      result = call.invoke(() => original.apply(this, args));
    } catch (err) {
      call.fail(err);
      throw err;
    } finally {
      insideInvoke = false;
    }
    try {
      return call.attach(result);
    } catch (err) {
      reportTelemetryError('instrumentation', err);
      return result;
    }
  };
}

/**
 * @anthropic-ai/sdk 1.x starts its own GenAI call span when a tracer provider is registered;
 * with ours that would be two spans for one call. Clearing the instance's tracer turns the
 * built-in tracing off for this client only (option anthropicBuiltInSpans: 'keep' leaves it).
 */
export function suppressBuiltInSpans(client: unknown): void {
  if (
    typeof client === 'object' &&
    client !== null &&
    '_tracer' in client &&
    (client as { _tracer?: unknown })._tracer !== undefined
  ) {
    (client as { _tracer?: unknown })._tracer = undefined;
  }
}
