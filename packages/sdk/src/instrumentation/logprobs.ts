/**
 * Log probabilities of a text an output guard rewrote. OpenAI repeats the answer's text token by
 * token in `logprobs` (chat `choices[].logprobs.content[].token` / `bytes` / `top_logprobs`, and
 * `.refusal`; legacy completions `choices[].logprobs.tokens` / `top_logprobs`; Responses
 * output_text parts' `logprobs`), so piiGuard's redacted email came back to an application that
 * asked for them, one token at a time. They are removed, not rewritten: a finding spans tokens
 * (and a token's `bytes` and alternatives), and the placeholder has no tokens or probabilities
 * the model gave. Removed means the API's own value when none were requested: `null` for chat
 * and completions choices, an empty list for Responses parts and events (their type is a list).
 * Text a rewrite left alone keeps its logprobs; a response without them is not touched.
 */

type Obj = Record<string, unknown>;

/** A chat / completions choice's logprobs set to null (present and not null only). */
export function dropChoiceLogprobs(choice: Obj): void {
  if (choice.logprobs !== undefined && choice.logprobs !== null) choice.logprobs = null;
}

/** A Responses output_text part's or text event's logprobs emptied (a non-empty list only). */
export function dropListLogprobs(o: Obj): void {
  if (Array.isArray(o.logprobs) && o.logprobs.length > 0) o.logprobs = [];
}

/**
 * A chat choice's logprobs taken off it (set to null), for a text kept back that they repeat
 * (held-logprobs.ts gives them back with it once the text is checked): its `field` entries
 * (`content` for an audio transcript, `refusal` for a refusal); [] when it had none; undefined
 * when the other list has entries too, or they are not the API's shape: dropped, not kept.
 */
export function takeChoiceLogprobs(choice: Obj, field: 'content' | 'refusal'): unknown[] | undefined {
  const lp = choice.logprobs;
  if (lp === undefined || lp === null) return [];
  choice.logprobs = null;
  if (typeof lp !== 'object' || Array.isArray(lp)) return undefined;
  const o = lp as Obj;
  const other = o[field === 'content' ? 'refusal' : 'content'];
  if (Array.isArray(other) ? other.length > 0 : other !== undefined && other !== null) return undefined;
  const own = o[field];
  if (own === undefined || own === null) return [];
  return Array.isArray(own) ? own : undefined;
}
