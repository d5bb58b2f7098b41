import { ErrorFunnel } from '@llmsec/core/internal';

/**
 * The sinks' failures that are not delivery outcomes (a queue that throws, a stream that
 * refuses a write): core's error funnel, counted on llmsec.telemetry.errors{component=
 * "detect.sinks"} and logged once per episode, not once per alert. No meter: the funnel asks
 * the global provider at each failure, so a provider registered after the sink still counts.
 */
export const sinkErrors = new ErrorFunnel(undefined, 'detect.sinks', { meterName: '@llmsec/detect' });
