import type { Counter, Meter } from '@opentelemetry/api';
import { METRIC_DETECT_DROPPED, METRIC_DETECT_INCIDENTS_REFUSED } from '@llmsec/core';

/**
 * Deprecated: `llmsec.detect.incidents.refused` under its name before the overflow tier (issue 12's
 * "evicted" counter). Not among core's metric names: dashboards and alerts use the new one.
 */
const METRIC_DETECT_INCIDENTS_EVICTED = 'llmsec.detect.incidents.evicted';

// The engine's own counters, each with its series at 0 from the start (bounded: two reasons,
// one unlabelled series), so a rate() over them has a starting point; see AlertDispatch.startAtZero.

/** Events dropped, by reason (late, invalid). */
export function createDroppedCounter(meter: Meter): Counter {
  const counter = meter.createCounter(METRIC_DETECT_DROPPED, {
    description: 'Security events the detection engine dropped, by reason',
  });
  counter.add(0, { reason: 'late' });
  counter.add(0, { reason: 'invalid' });
  return counter;
}

/** Incidents refused a slot at maxOpenIncidentsPerRule, by rule. */
export function createRefusedCounter(meter: Meter): Counter {
  const counter = meter.createCounter(METRIC_DETECT_INCIDENTS_REFUSED, {
    description:
      'Incidents refused a slot because their rule had maxOpenIncidentsPerRule open: opened (and fired) in the ' +
      'process-local overflow tier instead, none evicted (with maxOverflowIncidentsPerRule 0: not opened)',
  });
  counter.add(0);
  // The same count under its name before the overflow tier (deprecated): dashboards and alerts
  // written against `llmsec.detect.incidents.evicted` keep working. Refusals are rare (a rule at
  // its cap), so the second add costs nothing on the hot path.
  const evicted = meter.createCounter(METRIC_DETECT_INCIDENTS_EVICTED, {
    description: 'Deprecated: the same count as llmsec.detect.incidents.refused, under its former name',
  });
  evicted.add(0);
  return {
    add(value, attributes, context) {
      counter.add(value, attributes, context);
      evicted.add(value, attributes, context);
    },
  };
}
