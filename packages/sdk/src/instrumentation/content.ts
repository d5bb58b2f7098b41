import type { Span } from '@opentelemetry/api';
import { ATTR_GEN_AI_INPUT_MESSAGES, ATTR_GEN_AI_OUTPUT_MESSAGES, ATTR_GEN_AI_SYSTEM_INSTRUCTIONS, redactPreview } from '@llmsec/core';
import type { GuardInput } from './types.ts';

/**
 * Message content on spans, only when the operator opted in: every text is redacted (secrets
 * and PII, core's redaction) and truncated before it is set, in the GenAI semconv JSON shape
 * (`[{role, parts:[{type:'text', content}]}]`).
 */

const MAX_MESSAGES = 50;

function part(text: string, max: number): { type: 'text'; content: string } {
  return { type: 'text', content: redactPreview(text, max).preview };
}

export function captureInput(span: Span, input: GuardInput, max: number): void {
  const messages = input.messages.slice(-MAX_MESSAGES).map((m) => ({ role: m.role, parts: [part(m.content, max)] }));
  span.setAttribute(ATTR_GEN_AI_INPUT_MESSAGES, JSON.stringify(messages));
  if (input.provider === 'anthropic' && input.system.length > 0) {
    span.setAttribute(ATTR_GEN_AI_SYSTEM_INSTRUCTIONS, JSON.stringify([part(input.system, max)]));
  }
}

export function captureOutput(span: Span, text: string, max: number): void {
  span.setAttribute(ATTR_GEN_AI_OUTPUT_MESSAGES, JSON.stringify([{ role: 'assistant', parts: [part(text, max)] }]));
}
