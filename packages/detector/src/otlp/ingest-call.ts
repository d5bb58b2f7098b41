// What both receivers do around the service: call OtlpIngest and the observer so that neither
// can throw into the transport, and clamp what the service answers to what the spec allows.
import { diag } from '@opentelemetry/api';
import type { IngestResult, ReceiveObserver, ReceiveReport } from './types.ts';

/** The service must not throw; if it does, the sender is told to retry rather than drop data. */
export function callIngest(fn: () => IngestResult): IngestResult {
  try {
    return fn();
  } catch (err) {
    diag.error('llmsec detector: OtlpIngest threw; answering unavailable', err);
    return { kind: 'unavailable', retryAfterSeconds: 1 };
  }
}

/** partial_success.rejected_*: a whole number between 0 and the records in the request. */
export function clampRejected(rejected: number, records: number): number {
  if (!Number.isFinite(rejected) || rejected <= 0) return 0;
  return Math.min(records, Math.floor(rejected));
}

/**
 * What an accepted request's partial_success says, alike over gRPC and HTTP: the rejected count
 * clamped, and a message whenever records were rejected (the service's, else a count).
 */
export function partialSuccess(
  result: { rejected: number; message?: string },
  records: number,
): { rejected: number; message: string } {
  const rejected = clampRejected(result.rejected, records);
  const message =
    rejected > 0
      ? (result.message ?? `${rejected} records are not usable llmsec events`)
      : (result.message ?? ''); // a warning with nothing rejected (OTLP allows it)
  return { rejected, message };
}

export function safeObserver(observer: ReceiveObserver | undefined): (report: ReceiveReport) => void {
  if (observer === undefined) return () => {};
  return (report) => {
    try {
      observer(report);
    } catch (err) {
      diag.error('llmsec detector: OTLP receive observer threw', err);
    }
  };
}
