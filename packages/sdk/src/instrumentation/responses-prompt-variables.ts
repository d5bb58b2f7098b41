import { obj, str, type Body } from './adapter.ts';
import type { GuardMessage } from './types.ts';

/**
 * The text variables of a Responses request built from a stored prompt (`prompt: {id,
 * variables}`), as input guard messages. The API puts each variable's text into the prompt the
 * model reads, and an application that fills one with the user's question sends it there (often
 * with no `input` at all): unread, PII, blocked patterns and injections in it reached the model
 * past every input guard. A string variable and an `input_text` one are read, as a `user`
 * message each (the application fills them, mostly with what a user wrote); images and files
 * are not text. They follow the `input` messages in GuardInput.messages, in key order.
 */

/** The variables object, when the request has one. */
function variablesOf(body: Body): Record<string, unknown> | undefined {
  const v = obj(obj(body.prompt)?.variables);
  return v !== undefined && !Array.isArray(v) ? v : undefined;
}

/** A variable's text: a string, or an `input_text` part's `text`. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const part = obj(value);
  return part?.type === 'input_text' ? str(part.text) : undefined;
}

/** The keys of the text variables, in the order their messages are listed. */
function textKeys(variables: Record<string, unknown>): string[] {
  return Object.keys(variables).filter((k) => textOf(variables[k]) !== undefined);
}

/** The request's text variables as `user` messages (none without a stored prompt). */
export function promptVariableMessages(body: Body): GuardMessage[] {
  const variables = variablesOf(body);
  if (variables === undefined) return [];
  return textKeys(variables).map((k) => ({ role: 'user', content: textOf(variables[k])! }));
}

/**
 * `body` with the text variables' new text (`messages`: the guards' messages for them, in the
 * order promptVariableMessages listed them; undefined or unchanged ones keep their value).
 */
export function withPromptVariables(body: Body, messages: readonly (GuardMessage | undefined)[]): Body {
  const variables = variablesOf(body);
  if (variables === undefined) return body;
  let next: Record<string, unknown> | undefined;
  textKeys(variables).forEach((k, i) => {
    const content = messages[i]?.content;
    const value = variables[k];
    if (content === undefined || content === textOf(value)) return;
    next ??= { ...variables };
    next[k] = typeof value === 'string' ? content : { ...obj(value), text: content };
  });
  return next === undefined ? body : { ...body, prompt: { ...obj(body.prompt), variables: next } };
}
