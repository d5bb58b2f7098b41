import type { Span } from '@opentelemetry/api';
import {
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  redactPreview,
} from '@llmsec/core';
import type { GuardInput } from './types.ts';

/**
 * Message content on spans, only when the operator opted in: every text is redacted (secrets
 * and PII, core's redaction) and truncated before it is set, in the GenAI semconv JSON shape
 * (`[{role, parts:[{type:'text', content}]}]`).
 *
 * The system prompt is not content capture's to export: it is the operator's secret, and the
 * canary planted in it stops proving anything once traces are readable. So OpenAI `system` /
 * `developer` messages, Anthropic's `system` and the Responses API's `instructions` are left
 * out unless `captureSystemPrompt` says otherwise; and the output of a call blocked by an
 * output guard (a leak, say) is not captured at all.
 */

const MAX_MESSAGES = 50;

function part(text: string, max: number): { type: 'text'; content: string } {
  return { type: 'text', content: redactPreview(text, max).preview };
}

function isSystemRole(role: string): boolean {
  return role === 'system' || role === 'developer';
}

export function captureInput(span: Span, input: GuardInput, max: number, includeSystem: boolean): void {
  const kept = includeSystem ? input.messages : input.messages.filter((m) => !isSystemRole(m.role));
  const messages = kept.slice(-MAX_MESSAGES).map((m) => ({ role: m.role, parts: [part(m.content, max)] }));
  span.setAttribute(ATTR_GEN_AI_INPUT_MESSAGES, JSON.stringify(messages));
  if (!includeSystem || input.system.length === 0) return;
  // OpenAI chat's system messages are in the messages above; Anthropic's `system` and the
  // Responses API's `instructions` are not, so they go to the system-instructions attribute.
  const instructions =
    input.provider === 'anthropic'
      ? input.system
      : typeof input.body.instructions === 'string'
        ? input.body.instructions
        : '';
  if (instructions.length > 0)
    span.setAttribute(ATTR_GEN_AI_SYSTEM_INSTRUCTIONS, JSON.stringify([part(instructions, max)]));
}

export function captureOutput(span: Span, text: string, max: number): void {
  span.setAttribute(
    ATTR_GEN_AI_OUTPUT_MESSAGES,
    JSON.stringify([{ role: 'assistant', parts: [part(text, max)] }]),
  );
}
