import type { LlmsecMetrics } from '../metrics.ts';
import type { ProviderAdapter } from './adapter.ts';

/**
 * The GenAI semantic-convention metrics of one finished call (gen_ai.client.token.usage,
 * gen_ai.client.operation.duration), labelled with the requested model: the span's
 * gen_ai.request.model, so metrics and traces group alike. Apart from call.ts because it is
 * the metrics half of the call's end; the event half is completed-event.ts.
 */
export function recordCallMetrics(
  m: LlmsecMetrics,
  adapter: ProviderAdapter,
  model: string,
  inTok: number | undefined,
  outTok: number | undefined,
  seconds: number,
  errorType: string | undefined,
): void {
  const { operation, provider } = adapter;
  if (inTok !== undefined)
    m.recordTokenUsage({ operation, provider, model, tokens: inTok, tokenType: 'input' });
  if (outTok !== undefined)
    m.recordTokenUsage({ operation, provider, model, tokens: outTok, tokenType: 'output' });
  m.recordOperationDuration(
    errorType !== undefined
      ? { operation, provider, model, seconds, errorType }
      : { operation, provider, model, seconds },
  );
}
