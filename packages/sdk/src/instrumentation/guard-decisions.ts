import type { GuardrailOutcome } from '../metrics.ts';
import { GuardrailBlockedError, OutputBlockedError } from './errors.ts';
import { isToolRole } from './tool-role.ts';
import type {
  GuardContext,
  GuardDecision,
  GuardInput,
  InputGuard,
  OutputDecision,
  OutputGuard,
} from './types.ts';

/**
 * Reading a guard's decision, shared by the chains (guard-runner.ts, chunk-guards.ts): whether
 * it came as a promise, its outcome label, and what a block becomes: the security event on the
 * call (with the blocked payload) and the error thrown to the application.
 */

export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

export function outcomeOf(action: unknown): GuardrailOutcome {
  return action === 'block' || action === 'modify' ? action : 'allow';
}

export function blockInput(
  guard: InputGuard,
  decision: Extract<GuardDecision, { action: 'block' }>,
  input: GuardInput,
  ctx: GuardContext,
): GuardrailBlockedError {
  const reason = String(decision.reason);
  const fromTool = toolMessage(input, decision.message);
  const event = ctx.emit('guardrail_block', {
    ...(decision.severity !== undefined ? { severity: decision.severity } : {}),
    // The blocked payload: its length and fingerprint are recorded even with previews
    // off, for the escalation and coordinated-campaign rules. A tool's output the guard
    // named is the payload itself: the same poisoned document resent every turn keeps one
    // fingerprint (the indirect_prompt_injection rule groups by it), while the newest user
    // message changes every turn. A block that is the user's has the user's newest message
    // as its payload, not a tool output after it (that would give the user's block the
    // page's fingerprint and length); or the user message the guard named, when it named one
    // (an injection kept in a history the client sends: the newest message is then a constant
    // 'ok', the same payload for every attempt).
    requestText: fromTool ?? namedUserText(input, decision.message) ?? newestUserText(input),
    description: `input blocked by ${guard.name}${fromTool !== undefined ? ' (in a tool result)' : ''}`,
    metadata:
      fromTool !== undefined
        ? { guardrail_layer: guard.layer, block_reason: reason, input_source: 'tool' }
        : { guardrail_layer: guard.layer, block_reason: reason },
  });
  return new GuardrailBlockedError(guard.layer, reason, event, fromTool !== undefined ? 'tool' : undefined);
}

/**
 * The text of the tool output a block is the tool's for; else undefined (the user's block).
 * A decision naming a message is the tool's when that message is a tool's output. One naming
 * none (a custom guard that does not say) is the tool's only when it could not be anything
 * else: no message of the request but the operator's (system, developer), the model's
 * (assistant) and tools' output has text; its payload is then the newest tool output. Any
 * text of the user's keeps it the user's, so adding a tool message to a request cannot move a
 * user's block off the per-user rules; nor is it the tool's by default.
 */
function toolMessage(input: GuardInput, index: unknown): string | undefined {
  const messages = input.messages;
  const named = typeof index === 'number' ? messages[index] : undefined;
  if (named !== undefined)
    return typeof named.role === 'string' && isToolRole(named.role) ? String(named.content) : undefined;
  let newestTool: string | undefined;
  for (const m of messages) {
    const role = String(m?.role);
    if (role === 'system' || role === 'developer' || role === 'assistant') continue;
    const content = String(m?.content ?? '');
    if (content.length === 0) continue;
    if (!isToolRole(role)) return undefined;
    newestTool = content;
  }
  return newestTool;
}

export function blockOutput(
  guard: OutputGuard,
  reasonRaw: unknown,
  severity: GuardDecisionSeverity,
  ctx: GuardContext,
): OutputBlockedError {
  const reason = String(reasonRaw);
  const event = ctx.emit('output_filter_block', {
    ...(severity !== undefined ? { severity } : {}),
    requestText: lastUserText(ctx.input),
    description: `response blocked by ${guard.name}`,
    metadata: { filter_name: guard.layer, block_reason: reason },
  });
  return new OutputBlockedError(guard.layer, reason, event);
}

/**
 * A block the instrumentation makes itself when it fails closed (no guard decided it: the text
 * a guard held could be neither rewritten nor withheld). Reported as any output block is, with
 * its `output_filter_block` event on the error: a security tool's own fail-closed blocks are
 * blocks too (before, only a blocked request_completed and the telemetry error count showed it).
 */
export function failClosedOutput(filter: string, reason: string, ctx: GuardContext): OutputBlockedError {
  const event = ctx.emit('output_filter_block', {
    requestText: lastUserText(ctx.input),
    description: `response blocked: ${reason}`,
    metadata: { filter_name: filter, block_reason: reason },
  });
  return new OutputBlockedError(filter, reason, event);
}

type GuardDecisionSeverity = Extract<OutputDecision, { action: 'block' }>['severity'];

/** The text of the message a decision names when it is the user's (role `user`); else undefined. */
function namedUserText(input: GuardInput, index: unknown): string | undefined {
  const named = typeof index === 'number' ? input.messages[index] : undefined;
  return named?.role === 'user' && typeof named.content === 'string' ? named.content : undefined;
}

/** The newest user message's text; without one, the newest input message's (lastUserText). */
function newestUserText(input: GuardInput): string {
  for (let i = input.messages.length - 1; i >= 0; i--) {
    const m = input.messages[i]!;
    if (m.role === 'user') return m.content;
  }
  return lastUserText(input);
}

/**
 * The newest input message, a user message or a tool's output (isToolRole): the payload of an
 * output block (what the model last read: on an agent's tool turn, the tool's output), and of
 * an input block of the user's when the request has no user message.
 */
function lastUserText(input: GuardInput): string {
  for (let i = input.messages.length - 1; i >= 0; i--) {
    const { role, content } = input.messages[i]!;
    if (role === 'user' || isToolRole(role)) return content;
  }
  return '';
}
