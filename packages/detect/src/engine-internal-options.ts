import type { DetectionEngineOptions } from './engine-options.ts';
import { GroupPrefetch, NO_PREFETCH, PREFETCH_ALWAYS } from './group-prefetch.ts';

/**
 * Internal option (not part of the public API): every rule keeps object states, as before
 * the slab. The differential tests and the benchmark's in-run baseline use it.
 */
export const OBJECT_STATE_ONLY: unique symbol = Symbol('llmsec.detect.objectStateOnly');

/** The engine's options with the switches only tests and benchmarks set (symbols: no config file reaches them). */
interface InternalOptions extends DetectionEngineOptions {
  [OBJECT_STATE_ONLY]?: boolean;
  [NO_PREFETCH]?: boolean;
  [PREFETCH_ALWAYS]?: boolean;
}

/** Reads the internal switches: slabs on or off, and the group read-ahead (undefined: off). */
export function internalSwitches(options: DetectionEngineOptions): {
  objectStateOnly: boolean;
  prefetch: GroupPrefetch | undefined;
} {
  const internal = options as InternalOptions;
  return {
    objectStateOnly: internal[OBJECT_STATE_ONLY] === true,
    prefetch:
      internal[NO_PREFETCH] === true
        ? undefined
        : new GroupPrefetch(internal[PREFETCH_ALWAYS] === true ? 0 : undefined),
  };
}
