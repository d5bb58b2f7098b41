/**
 * The package's error funnel is core's one ErrorFunnel: runtime code never throws into the
 * application (Span.end() calls processors without a try/catch); failures are counted on
 * `llmsec.telemetry.errors{component, error_type}` by class (core's errorType(), never the
 * message) and logged to the OTel diagnostic logger once per episode.
 * Call sites: `new ErrorFunnel(meter, component)`, `.report(where, err)`.
 */
export { ErrorFunnel, errorType } from '@llmsec/core/internal';
