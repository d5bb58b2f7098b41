/**
 * How an application tells the guard what a request really used, so the lease is settled
 * against actual tokens and cost instead of the estimate.
 */
import type { ServerResponse } from 'node:http';
import type { Usage } from '../types.ts';
import type { RateLimitDecision } from './types.ts';

/** A node response, or a framework reply wrapping one (Fastify's `reply.raw`). */
export type ResponseRef = ServerResponse | { raw: ServerResponse };

const usageByResponse = new WeakMap<ServerResponse, Usage>();
const decisionByResponse = new WeakMap<ServerResponse, RateLimitDecision>();

function rawOf(res: ResponseRef): ServerResponse {
  return 'raw' in res ? res.raw : res;
}

/**
 * Record the actual usage of this request (call it when the LLM response, or part of a
 * stream, is known; later calls replace earlier ones). Settled when the response finishes;
 * also charged when the client aborts after usage was reported, so a client cannot consume a
 * stream and disconnect to escape the token count.
 */
export function setRateLimitUsage(res: ResponseRef, usage: Usage): void {
  usageByResponse.set(rawOf(res), usage);
}

/** Usage set with `setRateLimitUsage`, else a valid `res.locals.llmsecUsage` (Express). */
export function reportedUsage(res: ResponseRef): Usage | undefined {
  const raw = rawOf(res);
  const set = usageByResponse.get(raw);
  if (set) return set;
  const locals = (raw as ServerResponse & { locals?: Record<string, unknown> }).locals;
  const candidate = locals?.llmsecUsage as Partial<Usage> | undefined;
  if (candidate && typeof candidate.tokens === 'number' && Number.isFinite(candidate.tokens)) {
    const usage: Usage = { tokens: candidate.tokens };
    if (typeof candidate.costMicroUsd === 'number' && Number.isFinite(candidate.costMicroUsd)) {
      usage.costMicroUsd = candidate.costMicroUsd;
    }
    return usage;
  }
  return undefined;
}

/** The guard's decision for this response (subject, estimate, limiter result), if any. */
export function getRateLimitDecision(res: ResponseRef): RateLimitDecision | undefined {
  return decisionByResponse.get(rawOf(res));
}

export function recordDecision(res: ServerResponse, decision: RateLimitDecision): void {
  decisionByResponse.set(res, decision);
}
