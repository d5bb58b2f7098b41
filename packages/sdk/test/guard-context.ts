// Guard tests' set-up: a chat input with defaults, and a guard context that records what the
// guards emit (the categories, and each category with its event input).
import type { Category, EventInputFor } from '@llmsec/core';
import type { GuardContext, GuardInput } from '../src/instrumentation/index.ts';

export interface RecordingContext {
  ctx: GuardContext;
  /** The categories emitted, in order. */
  emitted: string[];
  /** Each emitted category with its event input, in order. */
  events: Array<[string, unknown]>;
}

/** An OpenAI chat input; `fields` override the defaults (no system prompt, messages or tools). */
export function chatInput(fields: Partial<GuardInput> = {}): GuardInput {
  return {
    provider: 'openai',
    operation: 'chat',
    model: 'm',
    system: '',
    messages: [],
    tools: [],
    body: {},
    ...fields,
  };
}

export function recordingContext(input: GuardInput): RecordingContext {
  const emitted: string[] = [];
  const events: Array<[string, unknown]> = [];
  const ctx: GuardContext = {
    input,
    emit<C extends Category>(category: C, e: EventInputFor<C>) {
      emitted.push(category);
      events.push([category, e]);
      return undefined;
    },
  };
  return { ctx, emitted, events };
}
