import type { DetectionEngineOptions } from './engine-options.ts';

/** The engine's numeric options with their defaults applied (the defaults live here only). */
export interface EngineLimits {
  allowedLatenessMs: number;
  maxGroupsPerRule: number;
  maxEventsPerWindow: number;
  maxDistinctValues: number;
  maxBufferedEvents: number;
  tickIntervalMs: number;
  dedupeCapacity: number;
  maxOpenIncidentsPerRule: number;
  maxOverflowIncidentsPerRule: number;
}

/** Applies the defaults and rejects a bad value at construction, naming the option. */
export function engineLimits(options: DetectionEngineOptions): EngineLimits {
  const limits: EngineLimits = {
    allowedLatenessMs: options.allowedLatenessMs ?? 5_000,
    maxGroupsPerRule: options.maxGroupsPerRule ?? 100_000,
    maxEventsPerWindow: options.maxEventsPerWindow ?? 1_000,
    maxDistinctValues: options.maxDistinctValues ?? 1_000,
    maxBufferedEvents: options.maxBufferedEvents ?? 100_000,
    tickIntervalMs: options.tickIntervalMs ?? 0,
    dedupeCapacity: options.dedupeCapacity ?? 10_000,
    maxOpenIncidentsPerRule: options.maxOpenIncidentsPerRule ?? 10_000,
    maxOverflowIncidentsPerRule: options.maxOverflowIncidentsPerRule ?? 1_000,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`DetectionEngine: ${name} must be a finite number >= 0, got ${value}`);
  }
  if (limits.maxGroupsPerRule < 1) throw new Error('DetectionEngine: maxGroupsPerRule must be at least 1');
  return limits;
}

/** The limits shared mode hands to its inner engines (not the timer nor the dedupe window: the outer engine's). */
export function sharedModeLimits(
  limits: EngineLimits,
): Omit<EngineLimits, 'tickIntervalMs' | 'dedupeCapacity'> {
  return {
    allowedLatenessMs: limits.allowedLatenessMs,
    maxGroupsPerRule: limits.maxGroupsPerRule,
    maxEventsPerWindow: limits.maxEventsPerWindow,
    maxDistinctValues: limits.maxDistinctValues,
    maxBufferedEvents: limits.maxBufferedEvents,
    maxOpenIncidentsPerRule: limits.maxOpenIncidentsPerRule,
    maxOverflowIncidentsPerRule: limits.maxOverflowIncidentsPerRule,
  };
}
