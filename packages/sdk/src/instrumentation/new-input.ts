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

/**
 * The history is kept server-side: the Responses API's request names a previous response or
 * conversation; an Anthropic beta message thread's continues one (`thread: {type: 'continue'}`,
 * sent by `beta.messages.thread()` and the tool runner on a threaded client: only new messages).
 */
export function hasServerHistory(body: Readonly<Record<string, unknown>>): boolean {
  if (typeof body.previous_response_id === 'string' || body.conversation !== undefined) return true;
  const thread = body.thread;
  return typeof thread === 'object' && thread !== null && (thread as { type?: unknown }).type === 'continue';
}
