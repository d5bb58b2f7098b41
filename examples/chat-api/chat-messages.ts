import { HttpError } from './http-errors.ts';

/**
 * The chat messages this API accepts, in the OpenAI shape: system (or developer) / user /
 * assistant text (a string or text parts), an assistant turn that calls tools (`tool_calls`,
 * content null), and the `tool` messages that answer those calls, so agent loops can run
 * through the API as they would against OpenAI. Bounded: at most MAX_TOOL_CALLS calls per turn and short ids and names.
 */
export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; content: string; tool_call_id: string };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

const MAX_TOOL_CALLS = 32;
const MAX_ID_CHARS = 128;
/** Text parts of one message's content array: the body cap bounds their text, this their count. */
const MAX_CONTENT_PARTS = 256;

function bad(i: number, what: string): HttpError {
  return new HttpError(400, 'invalid_request_error', `"messages[${i}]" ${what}`, { param: `messages[${i}]` });
}

function shortString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_CHARS;
}

/**
 * OpenAI's content as an array of parts (`[{ type: 'text', text }]`, which clients building
 * multi-part messages send) is its text parts joined by newlines; any other part (an image,
 * audio, a file) is refused: this API and its guards read text only.
 */
function textOfParts(content: unknown, i: number): unknown {
  if (!Array.isArray(content)) return content;
  if (content.length === 0 || content.length > MAX_CONTENT_PARTS) {
    throw bad(i, `content parts must be 1..${MAX_CONTENT_PARTS} text parts`);
  }
  return content
    .map((part: unknown) => {
      const p = part as { type?: unknown; text?: unknown } | null;
      if (p?.type !== 'text' || typeof p.text !== 'string') {
        throw bad(
          i,
          'content parts must be text parts ({ "type": "text", "text": "..." }): this API reads text only',
        );
      }
      return p.text;
    })
    .join('\n');
}

export function parseChatMessage(m: unknown, i: number): ChatMessage {
  const msg = m as Record<string, unknown> | null;
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) throw bad(i, 'must be an object');
  const content = textOfParts(msg.content, i);
  // `developer` is what openai 7 and OpenAI's docs call the client's instructions for current
  // models: taken as a system message, which the API replaces with its own system prompt.
  const role = msg.role === 'developer' ? 'system' : msg.role;
  if (role === 'system' || role === 'user') {
    if (typeof content !== 'string') throw bad(i, 'must have string content');
    return { role, content };
  }
  if (role === 'tool') {
    if (typeof content !== 'string' || !shortString(msg.tool_call_id))
      throw bad(i, '(tool) must have string content and a tool_call_id');
    return { role, content, tool_call_id: msg.tool_call_id };
  }
  if (role === 'assistant') {
    if (msg.tool_calls === undefined) {
      if (typeof content !== 'string') throw bad(i, 'must have string content');
      return { role, content };
    }
    if (content !== null && content !== undefined && typeof content !== 'string')
      throw bad(i, 'must have string or null content');
    const calls = msg.tool_calls;
    if (!Array.isArray(calls) || calls.length === 0 || calls.length > MAX_TOOL_CALLS) {
      throw bad(i, `tool_calls must be an array of 1..${MAX_TOOL_CALLS} calls`);
    }
    const toolCalls = calls.map((c: unknown): ToolCall => {
      const call = c as { id?: unknown; function?: { name?: unknown; arguments?: unknown } } | null;
      const fn = call?.function;
      if (!shortString(call?.id) || !shortString(fn?.name) || typeof fn?.arguments !== 'string') {
        throw bad(i, 'tool_calls need an id, a function name and string arguments');
      }
      return { id: call.id, type: 'function', function: { name: fn.name, arguments: fn.arguments } };
    });
    return { role, content: typeof content === 'string' ? content : null, tool_calls: toolCalls };
  }
  throw bad(i, 'must have a role (system, developer, user, assistant, tool)');
}
