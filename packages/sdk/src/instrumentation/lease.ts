import type { Category, EventInputFor, SecurityEvent } from '@llmsec/core';
import { userSubject } from '@llmsec/core/internal';
import { reportTelemetryError } from '../errors.ts';
import type { ResponseSummary } from './adapter.ts';
import type { OperationName } from './types.ts';
import { RateLimitedError } from './errors.ts';
import type { LlmRuntime } from './runtime.ts';

/**
 * The rate-limit lease of one call: acquired with an estimate before the request, settled with
 * the provider's usage after it (streams: when the stream ends), cancelled when the call fails
 * before using anything. The estimate is the limiter's own for the request body when it has one
 * (`estimateRequest`: @llmsec/ratelimit's, the one its HTTP middleware reserves with, which
 * counts tool definitions and tool-call arguments), else prompt characters / 4 plus the
 * requested max output tokens. A limiter that throws fails open here: its own store policy
 * (fallback limiter or fail closed) is where that decision belongs.
 */
export interface LeaseHolder {
  readonly runtime: LlmRuntime;
  readonly userId: string | undefined;
  readonly secondarySubject: string | undefined;
  readonly body: Record<string, unknown>;
  readonly adapter: { readonly operation: OperationName };
  lease: unknown;
  promptLength(): number;
  estimatedOutputTokens(): number;
  emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent | undefined;
}

interface Estimate {
  promptTokens: number;
  outputTokens: number;
}

/** The lease as held on the call, with the estimate it was acquired with (settle's fallback). */
interface HeldLease extends Estimate {
  lease: unknown;
}

function estimate(call: LeaseHolder): Estimate {
  const own = call.runtime.limiter?.estimateRequest;
  if (typeof own === 'function') {
    try {
      const e = own.call(call.runtime.limiter, call.body);
      if (tokenCount(e?.inputTokens) && tokenCount(e?.outputTokens))
        return {
          promptTokens: e.inputTokens,
          // An embedding has no output. The body estimate guesses the operation from the model's
          // name ("embed" in it); the call knows it: an embeddings model named otherwise (an
          // Azure deployment, voyage-3) reserved 1,024 output tokens, and settled them, since
          // embeddings usage reports no output.
          outputTokens: call.adapter.operation === 'embeddings' ? 0 : e.outputTokens,
        };
    } catch (err) {
      reportTelemetryError('limiter', err);
    }
  }
  return { promptTokens: Math.ceil(call.promptLength() / 4), outputTokens: call.estimatedOutputTokens() };
}

/** A limiter is the app's code: its estimate is checked, not trusted. */
function tokenCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function acquireLease(call: LeaseHolder): Promise<void> | undefined {
  const limiter = call.runtime.limiter;
  if (limiter === undefined) return undefined;
  const est = estimate(call);
  const { promptTokens, outputTokens } = est;
  const model = typeof call.body.model === 'string' ? call.body.model : '';
  const micro = call.runtime.costMicro(model, promptTokens, outputTokens);
  let pending;
  try {
    pending = limiter.acquire({
      subject: (typeof call.userId === 'string' ? userSubject(call.userId) : undefined) ?? 'anonymous',
      ...(call.secondarySubject !== undefined ? { secondarySubject: call.secondarySubject } : {}),
      estimatedTokens: promptTokens + outputTokens,
      ...(micro !== undefined ? { estimatedCostMicroUsd: micro } : {}),
    });
  } catch (err) {
    reportTelemetryError('limiter', err);
    return undefined;
  }
  return Promise.resolve(pending).then(
    (res) => {
      if (res.allowed) {
        // No lease, nothing to settle (as before the estimate was kept with it).
        if (res.lease !== undefined) {
          const held: HeldLease = { lease: res.lease, ...est };
          call.lease = held;
        }
        return;
      }
      const reason = String(res.reason ?? res.refusedBy?.dimension ?? 'refused');
      // A limiter with its own events (@llmsec/ratelimit given `events`) has recorded this
      // refusal already, with the subject's role and the reason, on this call's span: one
      // refusal, one event. Otherwise it is recorded here.
      const event =
        limiterEvent(res.event) ??
        call.emit('rate_limit_hit', {
          description: `rate limit refused the request (${reason})`,
          metadata: {
            limit_type: res.refusedBy?.dimension ?? reason,
            current: res.refusedBy?.current ?? 0,
            limit: res.refusedBy?.limit ?? 0,
          },
        });
      throw new RateLimitedError(reason, Math.max(0, Number(res.retryAfterMs) || 0), event);
    },
    (err: unknown) => {
      reportTelemetryError('limiter', err);
    },
  );
}

/** The limiter's recorded event, when its result carries one (a limiter is the app's code: checked, not trusted). */
function limiterEvent(event: unknown): SecurityEvent | undefined {
  return event !== null && typeof event === 'object' && typeof (event as SecurityEvent).event_id === 'string'
    ? (event as SecurityEvent)
    : undefined;
}

/**
 * Settles with the usage, or cancels when `usage` is undefined. What the provider did not report
 * is estimated: input tokens by the request estimate; output tokens by what was output
 * (`outChars`, outputChars below) / 4, rounded up. Settling an unreported output at the reserve
 * (1,024 without max_tokens, since the limiter's estimate) charged a short streamed reply (an
 * OpenAI chat stream without include_usage, a stream cut early, a proxy that drops usage) a
 * thousand tokens it never used; settling it at 0 charged nothing for a long one. Capped at
 * max_tokens (times n) when the request set it, as the model can output no more; without it the
 * reserve is a guess, no bound. Without any output text (a failed call), the reserve, as before.
 */
export function settleLease(
  call: LeaseHolder,
  usage:
    | { inTok: number | undefined; outTok: number | undefined; outChars?: number | undefined; model: string }
    | undefined,
): void {
  const limiter = call.runtime.limiter;
  const held = call.lease as HeldLease | undefined;
  if (limiter === undefined || held === undefined) return;
  call.lease = undefined;
  const { lease, ...est } = held;
  try {
    let result: unknown;
    if (usage === undefined) {
      result = limiter.cancel(lease as never);
    } else {
      const inTok = usage.inTok ?? est.promptTokens;
      const outTok = usage.outTok ?? outputEstimate(call, usage.outChars) ?? est.outputTokens;
      const micro = call.runtime.costMicro(usage.model, inTok, outTok);
      result = limiter.settle(lease as never, {
        tokens: inTok + outTok,
        ...(micro !== undefined ? { costMicroUsd: micro } : {}),
      });
    }
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      (result as Promise<unknown>).then(undefined, (err: unknown) => reportTelemetryError('limiter', err));
    }
  } catch (err) {
    reportTelemetryError('limiter', err);
  }
}

/** Output tokens of `chars` output characters (chars / 4), capped by the request's max output tokens. */
function outputEstimate(call: LeaseHolder, chars: number | undefined): number | undefined {
  if (chars === undefined || !Number.isSafeInteger(chars) || chars < 0) return undefined;
  const tokens = Math.ceil(chars / 4);
  const max = call.estimatedOutputTokens();
  if (!(max > 0)) return tokens;
  const n = call.body.n;
  const choices = typeof n === 'number' && Number.isSafeInteger(n) && n > 1 ? n : 1;
  return Math.min(tokens, Math.ceil(max) * choices);
}

/**
 * The characters a response output, as the summary holds them: the answer's text (every
 * choice's), the texts beside it (refusals; quotes and annotation titles, a slight overcount)
 * and the tool calls' arguments (Anthropic tool inputs too). A complete response's count is
 * taken before its guards (summary.outputChars); a stream's is what its observer already
 * accumulated, read once at the end, so a cut stream counts what it delivered.
 */
export function outputChars(summary: ResponseSummary): number {
  if (summary.outputChars !== undefined) return summary.outputChars;
  let chars = summary.text.length;
  for (const t of summary.side ?? []) chars += t.length;
  for (const t of summary.toolArguments ?? []) chars += t.length;
  // An unguarded stream past the telemetry's cap: what it read and did not keep (kept-text.ts).
  return chars + (summary.droppedChars ?? 0);
}
