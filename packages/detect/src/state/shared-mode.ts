import { createNoopMeter, diag, type Counter, type Meter } from '@opentelemetry/api';
import type { Alert } from '@llmsec/core';
import { isCodeRule, type CompiledRule } from '../compile.ts';
import type { DetectionEngine } from '../engine.ts';
import { EXTEND_HELD_ELSEWHERE, type InternalOptions } from '../engine-internal-options.ts';
import type { DetectionEngineOptions } from '../engine-options.ts';
import type { ErrorFunnel } from '../errors.ts';
import type { AlertSink } from '../sinks/types.ts';
import type { AnyRule, RuleDefinition } from '../types.ts';
import { fleetIncidentCheck } from './fleet-check.ts';
import type { RedisDetectionState } from './redis-state.ts';
import { SharedEngine, type SharedEngineOptions } from './shared-engine.ts';
import { sharedTables } from './tables.ts';

/** What DetectionEngine hands over to run on a shared state (its own limits and outputs). */
export interface SharedModeInput {
  state: RedisDetectionState;
  rules: AnyRule[];
  /** The engine's compiled rules, in rule order. */
  compiled: readonly CompiledRule[];
  limits: Required<
    Pick<
      DetectionEngineOptions,
      | 'allowedLatenessMs'
      | 'maxGroupsPerRule'
      | 'maxEventsPerWindow'
      | 'maxDistinctValues'
      | 'maxBufferedEvents'
      | 'maxOpenIncidentsPerRule'
      | 'maxOverflowIncidentsPerRule'
    >
  >;
  deliver: (alert: Alert) => void;
  update: (alert: Alert) => void;
  errors: ErrorFunnel;
  meter: Meter;
  counts: SharedEngineOptions['counts'];
  droppedCounter: Counter;
  /** llmsec.detect.incidents.refused */
  refusedCounter: Counter;
  /** The engine's sinks: those that re-send firing alerts are told how to ask the fleet (useFleet). */
  sinks: readonly AlertSink[];
  /** `new DetectionEngine(options)` (passed in: this module must not import the engine's value). */
  makeEngine: (options: DetectionEngineOptions) => DetectionEngine;
}

export interface SharedMode {
  shared: SharedEngine;
  /** The in-memory engine (data rules) that detects while Redis is unreachable. */
  fallback: DetectionEngine;
  /** Code rules, which cannot be stored, in an in-memory engine of their own. */
  codeLocal: DetectionEngine | undefined;
  /** Gives up the fleet's adoption lease if this engine holds it (see fleetIncidentCheck). */
  releaseLease: () => Promise<void>;
}

/**
 * Sets up shared (Redis) detection for a DetectionEngine: data rules on the shared state, code
 * rules locally (with a warning), and the in-memory fallback for degraded mode. The inner
 * engines report through the outer one (one llmsec.alerts count, one set of sinks).
 */
export function startSharedMode(input: SharedModeInput): SharedMode {
  const { state, rules, limits } = input;
  state.bind();
  const dataRules = rules.filter((r): r is RuleDefinition => !isCodeRule(r));
  const codeRules = rules.filter((r) => isCodeRule(r));
  const inner: DetectionEngineOptions = {
    ...limits,
    // Live event time, as the shared state's (SharedEngine.ingest / ship): an event stamped
    // ahead of the wall clock within the bound waits for it rather than make every later event
    // late in the code rules' engine and the fallback.
    maxFutureSkewMs: state.maxFutureSkewMs,
    clock: { now: () => state.now() },
    meter: createNoopMeter(),
    onAlert: input.deliver,
    onUpdate: input.update,
  };
  let codeLocal: DetectionEngine | undefined;
  if (codeRules.length > 0) {
    diag.warn(
      `llmsec detect: code rules (${codeRules.map((r) => r.id).join(', ')}) cannot run in the shared Redis state; ` +
        'they are evaluated in this process only (each replica sees only its own events for them)',
    );
    codeLocal = input.makeEngine({ ...inner, rules: codeRules });
  }
  const dataCompiled = input.compiled.filter((r) => !isCodeRule(rules[r.index]!));
  const { tables, projectors, ruleset } = sharedTables(
    dataRules,
    dataCompiled,
    limits.allowedLatenessMs,
    state,
    { ...limits, maxPendingPerGroup: state.maxPendingPerGroup },
  );
  // The fallback extends a group's incident open in this process's overflow tier rather than
  // open a second one for it (the shared engine, which holds the tier, is built next).
  let shared: SharedEngine | undefined;
  const fallbackOptions: InternalOptions = {
    ...inner,
    rules: dataRules,
    [EXTEND_HELD_ELSEWHERE]: (ruleId, key, event, t) =>
      shared?.extendOverflow(ruleId, key, event, t) ?? false,
  };
  const fallback = input.makeEngine(fallbackOptions);
  shared = new SharedEngine({
    state,
    ruleset,
    tables,
    projectors,
    latenessMs: limits.allowedLatenessMs,
    maxOverflowPerRule: limits.maxOverflowIncidentsPerRule,
    limits: {
      maxUsersPerAlert: limits.maxDistinctValues,
      maxPending: state.maxPendingPerGroup,
      // Duplicates arrive close together (span event + log record, a retried export).
      recentIds: 32,
    },
    fallback,
    deliver: input.deliver,
    update: input.update,
    errors: input.errors,
    meter: input.meter,
    counts: input.counts,
    droppedCounter: input.droppedCounter,
    refusedCounter: input.refusedCounter,
  });
  const held = shared;
  const fleet = fleetIncidentCheck({
    state,
    ruleset,
    tables,
    maxUsersPerAlert: limits.maxDistinctValues,
    held: () => [...fallback.activeIncidents(), ...held.overflowIncidents()],
  });
  for (const sink of input.sinks) {
    try {
      sink.useFleet?.(fleet);
    } catch (err) {
      input.errors.report('sink.useFleet', err);
    }
  }
  return { shared, fallback, codeLocal, releaseLease: () => fleet.release() };
}
