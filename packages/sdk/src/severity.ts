import { SeverityNumber } from '@opentelemetry/api';
import type { Severity } from '@llmsec/core';

/**
 * Event severity as an OpenTelemetry log severity number (logs data model ranges):
 * info → INFO (9), warning → WARN (13), alert → ERROR (17), critical → FATAL (21).
 */
export const SEVERITY_NUMBER: Readonly<Record<Severity, SeverityNumber>> = {
  info: SeverityNumber.INFO,
  warning: SeverityNumber.WARN,
  alert: SeverityNumber.ERROR,
  critical: SeverityNumber.FATAL,
};
