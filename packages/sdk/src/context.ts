import {
  context as otelContext,
  createContextKey,
  propagation,
  type Baggage,
  type Context,
} from '@opentelemetry/api';
import { BAGGAGE_CONVERSATION_ID, BAGGAGE_SESSION_ID, BAGGAGE_USER_ID } from '@llmsec/core';
import { cutId } from '@llmsec/core/internal';

/**
 * The security context: who is behind the code that is running. It rides on the
 * OpenTelemetry context, so it follows async calls (with the AsyncLocalStorage context
 * manager), and on W3C baggage (`user.id`, `session.id`, `gen_ai.conversation.id`), so it
 * crosses HTTP hops between services that propagate context.
 *
 * Baggage arrives from the caller: across a hop it is only as trustworthy as the caller.
 * Propagate it between your own services; at the public edge, set the context from your
 * authentication, not from incoming baggage.
 */
export interface SecurityContext {
  userId?: string;
  sessionId?: string;
  conversationId?: string;
}

const SECURITY_CONTEXT_KEY = createContextKey('llmsec security context');
/** Ids longer than this are truncated: baggage is capped at 8192 bytes per W3C Baggage. */
export const MAX_ID_CHARS = 256;

/**
 * Normalises one id: strings are kept (truncated), numbers and booleans become strings,
 * anything else (objects, symbols, empty strings) is treated as absent.
 */
export function normaliseId(value: unknown): string | undefined {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    text = String(value);
  else return undefined;
  text = text.trim();
  if (text.length === 0) return undefined;
  // A lone surrogate (half an emoji, cut by the application or another hop) becomes U+FFFD, as
  // the OTLP protobuf exporters' UTF-8 makes it: W3C baggage cannot percent-encode it (the
  // propagator throws, and the whole baggage header was dropped, the application's own entries
  // with it), and JSON and protobuf exports named the user differently.
  if (!text.isWellFormed()) text = text.toWellFormed();
  // Trimmed after the cut too: an id with whitespace at unit 256 kept it at its end, and the
  // next normaliseId (the next service reading the id from baggage, or the application passing
  // back the id it read) trimmed it: one user, two ids.
  return text.length > MAX_ID_CHARS ? cutId(text, MAX_ID_CHARS).trimEnd() : text;
}

/**
 * A context carrying `security` (merged over the security context already in `parent`: inner
 * fields win, absent ones are inherited) as a context value and as baggage entries.
 */
export function contextWithSecurity(
  security: SecurityContext,
  parent: Context = otelContext.active(),
): Context {
  const merged = { ...getSecurityContext(parent) };
  const userId = normaliseId(security?.userId);
  const sessionId = normaliseId(security?.sessionId);
  const conversationId = normaliseId(security?.conversationId);
  if (userId !== undefined) merged.userId = userId;
  if (sessionId !== undefined) merged.sessionId = sessionId;
  if (conversationId !== undefined) merged.conversationId = conversationId;

  let baggage: Baggage = propagation.getBaggage(parent) ?? propagation.createBaggage();
  if (merged.userId !== undefined) baggage = baggage.setEntry(BAGGAGE_USER_ID, { value: merged.userId });
  if (merged.sessionId !== undefined)
    baggage = baggage.setEntry(BAGGAGE_SESSION_ID, { value: merged.sessionId });
  if (merged.conversationId !== undefined) {
    baggage = baggage.setEntry(BAGGAGE_CONVERSATION_ID, { value: merged.conversationId });
  }
  return propagation.setBaggage(parent, baggage).setValue(SECURITY_CONTEXT_KEY, Object.freeze(merged));
}

/** Runs `fn` with the security context set; returns what `fn` returns (a promise included). */
export function withSecurityContext<T>(security: SecurityContext, fn: () => T): T {
  let ctx: Context;
  try {
    ctx = contextWithSecurity(security);
  } catch {
    // Never let context bookkeeping stop the application's own code.
    return fn();
  }
  return otelContext.with(ctx, fn);
}

/** The security context of `ctx` (default: active): the context value first, then baggage. */
export function getSecurityContext(ctx: Context = otelContext.active()): SecurityContext {
  const own = ctx.getValue(SECURITY_CONTEXT_KEY) as SecurityContext | undefined;
  const fromBaggage = securityContextFromBaggage(propagation.getBaggage(ctx));
  const out: SecurityContext = {};
  const userId = own?.userId ?? fromBaggage.userId;
  const sessionId = own?.sessionId ?? fromBaggage.sessionId;
  const conversationId = own?.conversationId ?? fromBaggage.conversationId;
  if (userId !== undefined) out.userId = userId;
  if (sessionId !== undefined) out.sessionId = sessionId;
  if (conversationId !== undefined) out.conversationId = conversationId;
  return out;
}

/** Reads `user.id`, `session.id` and `gen_ai.conversation.id` from W3C baggage. */
export function securityContextFromBaggage(baggage: Baggage | undefined): SecurityContext {
  const out: SecurityContext = {};
  if (baggage === undefined) return out;
  const userId = normaliseId(baggage.getEntry(BAGGAGE_USER_ID)?.value);
  const sessionId = normaliseId(baggage.getEntry(BAGGAGE_SESSION_ID)?.value);
  const conversationId = normaliseId(baggage.getEntry(BAGGAGE_CONVERSATION_ID)?.value);
  if (userId !== undefined) out.userId = userId;
  if (sessionId !== undefined) out.sessionId = sessionId;
  if (conversationId !== undefined) out.conversationId = conversationId;
  return out;
}
