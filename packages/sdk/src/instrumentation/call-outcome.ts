import { errorTypeOf } from '../errors.ts';
import { GuardrailBlockedError, OutputBlockedError, RateLimitedError } from './errors.ts';

/** How a call ended, as `request_completed`'s `outcome`. */
export type CallOutcome = 'allowed' | 'blocked' | 'rate_limited' | 'error';

export function failureOutcome(err: unknown): CallOutcome {
  if (err instanceof GuardrailBlockedError || err instanceof OutputBlockedError) return 'blocked';
  if (err instanceof RateLimitedError) return 'rate_limited';
  return 'error';
}

/** `request_completed`'s `block_source`: 'tool' when an input guard blocked a tool's output. */
export function blockSourceOf(err: unknown): 'tool' | undefined {
  return err instanceof GuardrailBlockedError ? err.inputSource : undefined;
}

/**
 * Low-cardinality `error.type`: core's errorType() (client errors keep `name === 'Error'` but
 * have meaningful classes: RateLimitError, InternalServerError, APIUserAbortError), the one
 * derivation every llmsec package uses.
 */
export function errorClass(err: unknown): string {
  return errorTypeOf(err);
}
