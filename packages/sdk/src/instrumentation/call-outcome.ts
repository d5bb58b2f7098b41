import { errorTypeOf } from '../errors.ts';
import { GuardrailBlockedError, OutputBlockedError, RateLimitedError } from './errors.ts';

/** How a call ended, as `request_completed`'s `outcome`. */
export type CallOutcome = 'allowed' | 'blocked' | 'rate_limited' | 'error';

export function failureOutcome(err: unknown): CallOutcome {
  if (err instanceof GuardrailBlockedError || err instanceof OutputBlockedError) return 'blocked';
  if (err instanceof RateLimitedError) return 'rate_limited';
  return 'error';
}

/**
 * Low-cardinality `error.type`: the error's class (client errors keep `name === 'Error'` but
 * have meaningful classes: RateLimitError, InternalServerError, APIUserAbortError).
 */
export function errorClass(err: unknown): string {
  try {
    const ctor = (err as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Error' && ctor !== 'Object') return ctor.slice(0, 64);
  } catch {
    // fall through to the generic form
  }
  return errorTypeOf(err);
}
