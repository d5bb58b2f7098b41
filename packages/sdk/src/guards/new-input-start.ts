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

/** Assistant replies and model-side items, as core's new-input measure reads them. */
function isModelSide(role: string): boolean {
  return role === 'assistant' || role === 'model' || role === 'reasoning' || role.endsWith('_call');
}
