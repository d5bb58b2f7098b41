import type { SecurityEvent } from '@llmsec/core';

/**
 * Errors the instrumentation raises on purpose, so the application can catch a refusal by type.
 * They carry the event that recorded them (when one was emitted) and never the prompt text.
 */

/** An input guard blocked the request: it did not reach the provider. */
export class GuardrailBlockedError extends Error {
  override readonly name = 'GuardrailBlockedError';
  readonly layer: string;
  readonly reason: string;
  readonly event: SecurityEvent | undefined;
  /**
   * `'tool'` when the blocked text was a tool's output (a fetched page, a retrieved document:
   * indirect prompt injection), not the user's: an agent may drop that tool result and go on.
   * Undefined otherwise (the user's text, or a guard that did not say which message). It says
   * where the text sat in the request, not who wrote it: an app that takes the client's history
   * as it comes lets the client write a tool result itself.
   */
  readonly inputSource: 'tool' | undefined;

  constructor(layer: string, reason: string, event?: SecurityEvent, inputSource?: 'tool') {
    super(`request blocked by guardrail "${layer}": ${reason}`);
    this.layer = layer;
    this.reason = reason;
    this.event = event;
    this.inputSource = inputSource;
  }
}

/** An output guard blocked the response (or cut the stream). */
export class OutputBlockedError extends Error {
  override readonly name = 'OutputBlockedError';
  readonly filter: string;
  readonly reason: string;
  readonly event: SecurityEvent | undefined;

  constructor(filter: string, reason: string, event?: SecurityEvent) {
    super(`response blocked by output filter "${filter}": ${reason}`);
    this.filter = filter;
    this.reason = reason;
    this.event = event;
  }
}

/** The rate limiter refused the request: retry after `retryAfterMs`. */
export class RateLimitedError extends Error {
  override readonly name = 'RateLimitedError';
  readonly retryAfterMs: number;
  readonly reason: string;
  readonly event: SecurityEvent | undefined;

  constructor(reason: string, retryAfterMs: number, event?: SecurityEvent) {
    super(`rate limited (${reason}); retry after ${retryAfterMs} ms`);
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
    this.event = event;
  }
}
