import type { CategoryMetadata } from '@llmsec/core';
import type { CallOutcome } from './call-outcome.ts';
import type { NewInput } from './new-input.ts';

/**
 * The metadata of a call's one `request_completed` event, built in one place: the facts the
 * call measured at its end. Add a field here (and to core's metadata model) to extend the event.
 */

export interface CompletedFacts {
  /** The response's model, else the requested one. */
  model: string;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  seconds: number;
  costUsd: number;
  /** Characters of the prompt (messages, plus Anthropic's system prompt). */
  promptLength: number;
  /** The call's own input and its turn in the conversation (new-input.ts). */
  newInput: NewInput;
  outcome: CallOutcome;
  /** An input guard blocked the call for a tool's output (GuardrailBlockedError.inputSource). */
  blockSource?: 'tool';
}

export function completedMetadata(
  f: CompletedFacts,
): CategoryMetadata['request_completed'] & { outcome: CallOutcome } {
  const metadata: CategoryMetadata['request_completed'] & { outcome: CallOutcome } = {
    model: f.model,
    prompt_tokens: f.inputTokens ?? 0,
    completion_tokens: f.outputTokens ?? 0,
    latency_ms: Math.round(f.seconds * 1e6) / 1e3,
    cost_usd: f.costUsd,
    prompt_length: f.promptLength,
    new_input_length: f.newInput.length,
    blocked: f.outcome === 'blocked',
    outcome: f.outcome,
  };
  if (f.newInput.turnIndex !== undefined) metadata.turn_index = f.newInput.turnIndex;
  if (f.blockSource !== undefined) metadata.block_source = f.blockSource;
  return metadata;
}
