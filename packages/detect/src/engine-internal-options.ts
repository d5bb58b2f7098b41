import type { SecurityEvent } from '@llmsec/core';
import type { DetectionEngineOptions } from './engine-options.ts';
import { GroupPrefetch, NO_PREFETCH, PREFETCH_ALWAYS } from './group-prefetch.ts';

/**
 * Internal option (not part of the public API): every rule keeps object states, as before
 * the slab. The differential tests and the benchmark's in-run baseline use it.
 */
export const OBJECT_STATE_ONLY: unique symbol = Symbol('llmsec.detect.objectStateOnly');

/**
 * Internal option (not part of the public API), set by shared mode on its degraded-mode fallback
 * engine: before the fallback opens an incident for a group, this is asked whether an incident
 * of (rule, group) is still open elsewhere in the process (the shared engine's overflow tier);
 * if so it has extended that one with the event and returns true, and the fallback opens none
 * (else a second firing line for one incident).
 */
export const EXTEND_HELD_ELSEWHERE: unique symbol = Symbol('llmsec.detect.extendHeldElsewhere');

/** See EXTEND_HELD_ELSEWHERE. */
export type ExtendHeldElsewhere = (ruleId: string, key: string, event: SecurityEvent, t: number) => boolean;

/** The engine's options with the switches only tests, benchmarks and shared mode set (symbols: no config file reaches them). */
export interface InternalOptions extends DetectionEngineOptions {
  [OBJECT_STATE_ONLY]?: boolean;
  [NO_PREFETCH]?: boolean;
  [PREFETCH_ALWAYS]?: boolean;
  [EXTEND_HELD_ELSEWHERE]?: ExtendHeldElsewhere;
}

/** Reads the internal switches: slabs on or off, the group read-ahead (undefined: off), the fallback's hook. */
export function internalSwitches(options: DetectionEngineOptions): {
  objectStateOnly: boolean;
  prefetch: GroupPrefetch | undefined;
  extendHeldElsewhere: ExtendHeldElsewhere | undefined;
} {
  const internal = options as InternalOptions;
  return {
    objectStateOnly: internal[OBJECT_STATE_ONLY] === true,
    extendHeldElsewhere: internal[EXTEND_HELD_ELSEWHERE],
    prefetch:
      internal[NO_PREFETCH] === true
        ? undefined
        : new GroupPrefetch(internal[PREFETCH_ALWAYS] === true ? 0 : undefined),
  };
}
