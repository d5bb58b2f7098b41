import type { Span } from '@opentelemetry/api';
import {
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  redact,
  redactPreview,
  truncatePreview,
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

/**
 * `cut`: `text` is the prefix an unguarded stream kept (kept-text.ts MAX_TELEMETRY_TEXT_CHARS),
 * not the whole answer: see cutPart.
 */
export function captureOutput(span: Span, text: string, max: number, cut = false): void {
  span.setAttribute(
    ATTR_GEN_AI_OUTPUT_MESSAGES,
    JSON.stringify([{ role: 'assistant', parts: [cut ? cutPart(text, max) : part(text, max)] }]),
  );
}

/**
 * The longest text redaction can fail to recognise because it was cut (core's preview.ts
 * UNRECOGNISED_TAIL: every longer kind is still matched on a prefix).
 */
const UNRECOGNISED_TAIL = 512;

/**
 * The preview of a text cut short by the kept copy's cap: a secret or address the cut went
 * through is not recognised, and lies in the last 512 characters of what redaction gives back.
 * redactPreview shows a long text's head, which is safe unless redaction shrank the text to
 * near its preview (then it reads the text whole, and that tail can show): so the whole prefix
 * is redacted and its last 512 characters left out before it is cut to `max`.
 */
function cutPart(text: string, max: number): { type: 'text'; content: string } {
  let content = '';
  try {
    const r = redact(text).text;
    content = truncatePreview(r.slice(0, Math.max(0, r.length - UNRECOGNISED_TAIL)), max);
  } catch {
    // A preview is optional; leaking the unredacted text is not.
  }
  return { type: 'text', content };
}
