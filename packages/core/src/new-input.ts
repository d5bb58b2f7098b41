/**
 * What the user (or the agent's tools) sent in one model call, as opposed to what the client
 * resent. Chat clients resend the whole history on every turn, so the total prompt length of
 * an ordinary conversation grows with every turn and looks like context stuffing; the new
 * input does not. Rules that judge growth read `new_input_length`, not `prompt_length`.
 *
 * One computation for every producer: @llmsec/sdk measures the requests it instruments, the
 * detector measures the prompt messages other instrumentations put on GenAI spans. Both must
 * agree, or the same conversation would alert through one path and not the other.
 *
 * The new input is the trailing run of non-model messages: everything after the last
 * model-side message (assistant reply, tool call) except system / developer instructions, plus
 * a trailing assistant prefill (Anthropic lets the client put words in the model's mouth, and
 * those words are the client's). The turn index is 1 + the number of model turns in the
 * history: 1 for the first call of a conversation, n for the n-th model call.
 */

/** One message of a prompt, as text: the role as the provider or convention names it. */
export interface PromptMessage {
  readonly role: string;
  readonly content: string;
}

export interface NewInput {
  /** Characters of the new input (text; tool results included). */
  length: number;
  /** 1-based model call index within the conversation; undefined when unknown. */
  turnIndex: number | undefined;
}

export interface NewInputOptions {
  /**
   * The request's raw message list (`messages`, or the Responses API's `input` array), read
   * for what the text view leaves out (tool results in content blocks, Responses
   * `function_call_output`). Ignored unless it has one item per text-view message.
   */
  raw?: readonly unknown[];
  /** A conversation id or session id is known: the call belongs to a conversation. */
  inConversation?: boolean;
  /**
   * The history lives on the server (Responses `previous_response_id` / `conversation`): the
   * request carries only new input, and the turn index cannot be read from it.
   */
  serverHistory?: boolean;
}

const SYSTEM_ROLES: ReadonlySet<string> = new Set(['system', 'developer']);

/**
 * Assistant replies and model-side items: `model` (Gemini), the Responses API's `reasoning`
 * and `*_call` items (`function_call`, ...).
 */
export function isModelSideRole(role: string): boolean {
  return role === 'assistant' || role === 'model' || role === 'reasoning' || role.endsWith('_call');
}

/** One pass from the end of the list: linear in the number of messages. */
export function measureNewInput(messages: readonly PromptMessage[], options: NewInputOptions = {}): NewInput {
  const raw = options.raw !== undefined && options.raw.length === messages.length ? options.raw : undefined;
  let i = messages.length - 1;
  let length = 0;
  // A trailing assistant prefill is the client's text too.
  while (i >= 0 && isModelSideRole(messages[i]!.role)) length += lengthAt(messages, raw, i--);
  for (; i >= 0 && !isModelSideRole(messages[i]!.role); i--) {
    if (!SYSTEM_ROLES.has(messages[i]!.role)) length += lengthAt(messages, raw, i);
  }
  // Model turns in the history: runs of model-side items (one agent step may echo a reasoning
  // item and a function call: one turn).
  let turns = 0;
  let inRun = false;
  for (; i >= 0; i--) {
    const model = isModelSideRole(messages[i]!.role);
    if (model && !inRun) turns++;
    inRun = model;
  }
  const known = options.serverHistory !== true && (turns > 0 || options.inConversation === true);
  return { length, turnIndex: known ? turns + 1 : undefined };
}

/**
 * The size of message `i`: the text view misses tool results held in content blocks (and joins
 * parts with newlines), so the larger of the two readings. A function, not a closure per call:
 * every instrumented call measures its request (issue 13).
 */
function lengthAt(
  messages: readonly PromptMessage[],
  raw: readonly unknown[] | undefined,
  i: number,
): number {
  const text = messages[i]!.content.length;
  return raw === undefined ? text : Math.max(text, rawContentLength(raw[i]));
}

// Caps for the raw walk: linear time and bounded work whatever the client sent.
const MAX_NODES = 10_000;
const MAX_DEPTH = 6;

/**
 * Characters of text in a raw message: `content` as a string, or the `text`, nested
 * `content` (Anthropic `tool_result`) and `output` (Responses `function_call_output`) of its
 * parts. Bounded: at most MAX_NODES values visited, MAX_DEPTH levels deep.
 */
export function rawContentLength(message: unknown): number {
  // The common message, `{role, content: string}`: what the walk below gives it (text, content,
  // output read in its order; three values visited, far under the budget), without its closure.
  if (typeof message === 'object' && message !== null && !Array.isArray(message)) {
    const o = message as Record<string, unknown>;
    if (o.text === undefined) {
      const content = o.content;
      if (typeof content === 'string' && o.output === undefined) return content.length;
    }
  }
  let budget = MAX_NODES;
  const walk = (v: unknown, depth: number): number => {
    if (--budget < 0) return 0;
    if (typeof v === 'string') return v.length;
    if (depth >= MAX_DEPTH || typeof v !== 'object' || v === null) return 0;
    if (Array.isArray(v)) {
      let n = 0;
      for (const item of v) {
        if (budget < 0) break;
        n += walk(item, depth + 1);
      }
      return n;
    }
    const o = v as Record<string, unknown>;
    return walk(o.text, depth + 1) + walk(o.content, depth + 1) + walk(o.output, depth + 1);
  };
  return walk(message, 0);
}
