import type { GuardMessage } from '../instrumentation/types.ts';

/**
 * Where the call's new input begins: the trailing user / tool messages since the last model
 * turn (and an assistant prefill after them), the messages core's `measureNewInput` counts as
 * `new_input_length`. Everything before is history the client resends every turn, which the
 * guards already judged on the turn it was new. Linear in the number of messages.
 */
export function newInputStart(messages: readonly GuardMessage[]): number {
  let i = messages.length - 1;
  while (i >= 0 && isModelSide((messages[i] as GuardMessage).role)) i--;
  while (i >= 0 && !isModelSide((messages[i] as GuardMessage).role)) i--;
  return i + 1;
}

/**
 * Output of the tools the provider runs itself (OpenAI Responses: `file_search_call` results,
 * `code_interpreter_call` logs, `mcp_call` output, an `mcp_list_tools` item's descriptions). It
 * comes back inside the model's turn, before the answer the model gave with it, so it was in no
 * input before: the request after that turn is the first whose guards read it, though it sits
 * before newInputStart. Those items of the model turn just before the new input are new too
 * (isHostedOutput); one turn later they are history like the rest. Returns where that model
 * turn begins (`start` when there is none); linear in its length.
 */
export function hostedOutputStart(messages: readonly GuardMessage[], start: number): number {
  let i = start - 1;
  while (i >= 0) {
    const role = (messages[i] as GuardMessage).role;
    if (!isModelSide(role) && role !== 'mcp_list_tools') break;
    i--;
  }
  return i + 1;
}

/**
 * An item of the model's turn that holds a hosted tool's output (see hostedOutputStart), not the
 * model's own words: the `*_call` items responses-items.ts reads a tool's output from, and
 * `mcp_list_tools`. (Anthropic's server tool results are `tool` messages cut out of the
 * assistant's, which a role cannot tell from a client's tool result: not covered.)
 */
export function isHostedOutput(role: string): boolean {
  return (
    role === 'file_search_call' ||
    role === 'code_interpreter_call' ||
    role === 'mcp_call' ||
    role === 'mcp_list_tools'
  );
}

/** Assistant replies and model-side items, as core's new-input measure reads them. */
function isModelSide(role: string): boolean {
  return role === 'assistant' || role === 'model' || role === 'reasoning' || role.endsWith('_call');
}
