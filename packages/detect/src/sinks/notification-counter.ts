import { metrics, type Meter } from '@opentelemetry/api';
import { METRIC_ALERT_NOTIFICATIONS } from '@llmsec/core';

export type NotificationOutcome = 'sent' | 'failed' | 'dropped';
export type RecordNotifications = (outcome: NotificationOutcome, count: number) => void;

export const DETECT_METER_NAME = '@llmsec/detect';

/**
 * `llmsec.alert.notifications{sink, outcome}`: one count per alert notification (an alert in a
 * batch counts once), so `sent` + `failed` + `dropped` is every notification a sink accepted
 * or refused. The sink name is configuration, hence bounded.
 */
export function notificationCounter(meter: Meter | undefined, sink: string): RecordNotifications {
  const counter = (meter ?? metrics.getMeter(DETECT_METER_NAME)).createCounter(METRIC_ALERT_NOTIFICATIONS, {
    description:
      'Alert notifications by sink and outcome (sent, failed after retries, dropped from a full queue)',
    unit: '{notification}',
  });
  // Every outcome's series exists from the start at 0: a panel reads 0, not "no data", and
  // increase() sees the first failure or drop (a series born at 1 has nothing to rise from).
  for (const outcome of ['sent', 'failed', 'dropped'] as const) counter.add(0, { sink, outcome });
  return (outcome, count) => {
    if (count > 0) counter.add(count, { sink, outcome });
  };
}
