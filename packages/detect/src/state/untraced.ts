/**
 * The context the detection state's own Redis I/O runs in: the root context (no active span,
 * no W3C baggage) with tracing suppressed, so a flush started while a user's request is being
 * handled never adds Redis spans to that user's trace nor copies their baggage.
 *
 * The key is the one `@opentelemetry/core`'s `suppressTracing` sets (`createContextKey` is
 * `Symbol.for(description)`), so this needs only `@opentelemetry/api`. The same idea as the
 * limiter's untraced.ts (detect does not import ratelimit).
 */
import { context, createContextKey, ROOT_CONTEXT, type Context } from '@opentelemetry/api';

const SUPPRESS_TRACING_KEY = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

export const UNTRACED_CONTEXT: Context = ROOT_CONTEXT.setValue(SUPPRESS_TRACING_KEY, true);

/** Runs `fn` synchronously in UNTRACED_CONTEXT; the promises it starts keep that context. */
export function untraced<T>(fn: () => T): T {
  return context.with(UNTRACED_CONTEXT, fn);
}
