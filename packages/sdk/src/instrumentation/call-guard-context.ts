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
  /**
   * Guards' per-stream state (guards/stream-state.ts): owner, state, owner, state… One pair per
   * guard with a chunk check, so as long as the call's output guard list at most.
   */
  private slots: unknown[] | undefined;

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

  /** The state `owner` keeps for this call's stream, if any (a linear scan: one or two owners). */
  streamSlot(owner: object): unknown {
    const slots = this.slots;
    if (slots === undefined) return undefined;
    for (let i = 0; i < slots.length; i += 2) if (slots[i] === owner) return slots[i + 1];
    return undefined;
  }

  setStreamSlot(owner: object, state: unknown): void {
    const slots = this.slots;
    if (slots === undefined) {
      // The first state of a call (the defaults have one chunk guard): a two-element array as
      // made, not an empty one grown by push (V8 then reserves room for ~16 more), once a stream.
      this.slots = [owner, state];
      return;
    }
    for (let i = 0; i < slots.length; i += 2) {
      if (slots[i] === owner) {
        slots[i + 1] = state;
        return;
      }
    }
    slots.push(owner, state);
  }
}
