import type { PlannedRequest } from './personas.ts';

/**
 * The client side of a conversation, as chat clients and agent frameworks keep it: the
 * messages so far, resent with every turn. A turn joins the history only when the API answered
 * it (a refused or failed turn is dropped, as a client drops a message that got an error).
 */
export type ClientMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; content: string; tool_call_id: string };

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export class Conversations {
  private readonly histories = new Map<string, ClientMessage[]>();

  /** The messages to send for `request`: its conversation's history, then its own turn. */
  messagesFor(request: PlannedRequest): ClientMessage[] {
    const history =
      request.conversation !== undefined ? (this.histories.get(request.conversation) ?? []) : [];
    return [...history, this.turn(history, request)];
  }

  /** Records an answered turn and the reply (the chat completion's first choice). */
  answered(request: PlannedRequest, sent: ClientMessage[], completion: unknown): void {
    if (request.conversation === undefined) return;
    const message = (
      completion as { choices?: Array<{ message?: Partial<ClientMessage> & { tool_calls?: ToolCall[] } }> }
    )?.choices?.[0]?.message;
    if (message === undefined) return;
    const reply: ClientMessage =
      Array.isArray(message.tool_calls) && message.tool_calls.length > 0
        ? {
            role: 'assistant',
            content: typeof message.content === 'string' ? message.content : null,
            tool_calls: message.tool_calls,
          }
        : { role: 'assistant', content: typeof message.content === 'string' ? message.content : '' };
    this.histories.set(request.conversation, [...sent, reply]);
  }

  private turn(history: ClientMessage[], request: PlannedRequest): ClientMessage {
    if (request.toolResult === undefined) return { role: 'user', content: request.prompt };
    const last = history[history.length - 1];
    const call = last?.role === 'assistant' ? last.tool_calls?.[0] : undefined;
    // Without a pending tool call (the model answered in text), the agent reports the result as a user turn.
    return call !== undefined
      ? { role: 'tool', content: request.toolResult, tool_call_id: call.id }
      : { role: 'user', content: `Tool output:\n${request.toolResult}` };
  }
}
