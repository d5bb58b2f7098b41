import { str } from './adapter.ts';

/**
 * A streamed choice's finish reason when it is one: a non-empty string. Some OpenAI-compatible
 * servers send `finish_reason: ""` on every chunk before the last (where OpenAI sends null);
 * read as a finish, it closed the choice's held reasoning and tool calls at the first chunk, so
 * their later pieces were dropped, and released its refusal piece by piece, each rewritten
 * alone (an address cut between two pieces passed redact). Only a non-empty reason ends a choice.
 */
export function finishReasonOf(choice: Record<string, unknown> | undefined): string | undefined {
  const fr = str(choice?.finish_reason);
  return fr !== undefined && fr.length > 0 ? fr : undefined;
}

/** Whether this chunk's choice is its last (finishReasonOf). */
export function isFinish(choice: Record<string, unknown>): boolean {
  const fr = choice.finish_reason;
  return typeof fr === 'string' && fr.length > 0;
}
