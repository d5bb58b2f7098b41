/**
 * The new-input measure (new_input_length / turn_index) lives in @llmsec/core so that the
 * detector, which measures the prompt messages on other instrumentations' GenAI spans, computes
 * exactly what the SDK does. What stays here reads provider request bodies.
 */
export { measureNewInput, rawContentLength } from '@llmsec/core/internal';
export type { NewInput, NewInputOptions } from '@llmsec/core/internal';

/** The raw message list of a request body: chat `messages`, or the Responses API's `input` array. */
export function rawMessagesOf(body: Readonly<Record<string, unknown>>): readonly unknown[] | undefined {
  if (Array.isArray(body.messages)) return body.messages;
  if (Array.isArray(body.input)) return body.input;
  return undefined;
}

/** The Responses API keeps the history server-side when the request names a previous response or conversation. */
export function hasServerHistory(body: Readonly<Record<string, unknown>>): boolean {
  return typeof body.previous_response_id === 'string' || body.conversation !== undefined;
}
