import type { Span } from '@opentelemetry/api';
import type { Category, EventInputFor, SecurityEvent } from '@llmsec/core';
import type { GuardContext, GuardInput } from './types.ts';

/** What the guard context needs from its call (LlmCall implements it). */
export interface GuardContextOwner {
  readonly userId: string | undefined;
  readonly span: Span;
  guardView(): GuardInput;
  emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent | undefined;
}

/**
 * The GuardContext of one call. `input` is computed on first read (output-only guard sets need
 * the request view too) and replaced by input guards as they modify the request. A class, not
 * an object literal with accessors, because it is built on every call.
 */
export class CallGuardContext implements GuardContext {
  readonly userId: string | undefined;
  readonly sessionId: string | undefined;
  readonly conversationId: string | undefined;
  readonly span: Span;
  private readonly call: GuardContextOwner;
  private override: GuardInput | undefined;

  constructor(call: GuardContextOwner, sessionId: string | undefined, conversationId: string | undefined) {
    this.call = call;
    this.userId = call.userId;
    this.sessionId = sessionId;
    this.conversationId = conversationId;
    this.span = call.span;
  }

  get input(): GuardInput {
    return this.override ?? this.call.guardView();
  }

  set input(value: GuardInput) {
    this.override = value;
  }

  emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent | undefined {
    return this.call.emit(category, input);
  }
}
