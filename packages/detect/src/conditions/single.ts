import type { SecurityEvent } from '@llmsec/core';
import type { Condition, EvidenceSink } from '../types.ts';
import { rememberLast, type ConditionContext, type LastEvent } from './context.ts';

/** Every matched event: the incident groups them while they keep coming within the quiet period. */
export function singleCondition(ctx: ConditionContext): Condition<LastEvent> {
  return {
    createState: () => ({ lastId: '', lastTrace: undefined, lastUser: '' }),
    update(s: LastEvent, event: SecurityEvent): boolean {
      rememberLast(s, event);
      return true;
    },
    describe(s: LastEvent): string {
      return `${ctx.categories} event ${s.lastId}`;
    },
    evidence(s: LastEvent, _t: number, out: EvidenceSink): void {
      out(s.lastId, s.lastTrace, s.lastUser);
    },
  };
}
