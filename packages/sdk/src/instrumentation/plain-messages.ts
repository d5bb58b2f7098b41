import type { PromptMessage } from '@llmsec/core/internal';
import type { Body, ProviderAdapter } from './adapter.ts';
import { openaiChatAdapter } from './openai-chat.ts';

/**
 * The chat messages of a request whose every message is `{role: string, content: string}`
 * (issue 13): what the guard view's messages would hold (guardMessageOf reads such a message
 * as its role and its string content, nothing joined, no cuts), read without building that
 * view. The end of every call needs only these (prompt_length and the new input); the view
 * (each message's GuardMessage and cut list, the system text joined, the tool names) is built
 * for guards and content capture, so a call without either no longer builds it for its event.
 *
 * One snapshot, each field read once: a getter cannot make the length and the new input read
 * different texts. Anything else (content parts, tool output, a role that is not a string, a
 * message that is not a plain object, an `output` field) gives undefined: the guard view is
 * built as before. Linear in the messages, stops at the first one that is not plain.
 */
export function plainChatMessages(body: Body): PromptMessage[] | undefined {
  const list = body.messages;
  if (!Array.isArray(list)) return undefined;
  const out: PromptMessage[] = new Array<PromptMessage>(list.length);
  for (let i = 0; i < list.length; i++) {
    const m: unknown = list[i];
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return undefined;
    const o = m as Record<string, unknown>;
    const role = o.role;
    const content = o.content;
    if (typeof role !== 'string' || typeof content !== 'string' || o.output !== undefined) return undefined;
    out[i] = { role, content };
  }
  return out;
}

/**
 * plainChatMessages for chat.completions requests; undefined for the other adapters (the
 * Responses API shares its provider and operation but not its guard view, which is built).
 */
export function plainMessagesOf(adapter: ProviderAdapter, body: Body): PromptMessage[] | undefined {
  return adapter === openaiChatAdapter ? plainChatMessages(body) : undefined;
}
