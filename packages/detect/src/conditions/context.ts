import type { SecurityEvent } from '@llmsec/core';
import { formatDuration } from '../duration.ts';

/** What a condition needs to know about the rule it serves. */
export interface ConditionContext {
  windowMs: number;
  /** Cap on events kept per group window (floods are truncated to the newest). */
  maxEventsPerWindow: number;
  /** Cap on distinct values kept per group (cross-group user lists). */
  maxDistinctValues: number;
  /** e.g. `guardrail_block` or `guardrail_block/output_filter_block`, for descriptions. */
  categories: string;
  /** The rule's group_by, for descriptions (undefined: not known to the caller). */
  groupBy?: string;
}

export function windowText(ctx: ConditionContext): string {
  return formatDuration(ctx.windowMs);
}

/** State shared by conditions that only need the last event for evidence. */
export interface LastEvent {
  lastId: string;
  lastTrace: string | undefined;
  lastUser: string;
}

export function rememberLast(state: LastEvent, event: SecurityEvent): void {
  state.lastId = event.event_id;
  state.lastTrace = event.trace_id;
  state.lastUser = event.user_id;
}
