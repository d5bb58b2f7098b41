import type { Counter, Meter } from '@opentelemetry/api';
import { METRIC_DETECT_DROPPED, METRIC_DETECT_INCIDENTS_REFUSED } from '@llmsec/core';

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
  return counter;
}
