import type { Logger as OtelLogger } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { ATTR_SERVICE_NAME } from '@llmsec/core';

/**
 * The `sinks.otlp_alerts` logger: alert log records and enforcement action events, batched to an
 * OTLP/HTTP logs URL. A module of its own, loaded by buildSinks only when that sink is configured:
 * the OTLP exporter, the logs SDK and their transformer are ~80 modules a start without it does not
 * load (test/startup-modules.test.ts).
 */
export function otlpAlertLogger(
  url: string,
  serviceName: string,
): { logger: OtelLogger; shutdown: () => Promise<void> } {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url }) })],
  });
  return { logger: provider.getLogger('@llmsec/detector'), shutdown: () => provider.shutdown() };
}
