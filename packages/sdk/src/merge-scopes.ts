import type { ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';

/**
 * One ScopeMetrics per instrumentation scope. A reader that also reads a MetricProducer (llmsec's
 * own histograms, local-histograms.ts) collects the SDK's block of a scope and then the
 * producer's block of the same scope; OTLP allows repeated scopes, but a backend that keys by
 * scope could keep one block only, so the push exporter is handed them merged (the metrics in
 * collection order). Returns `metrics` itself when no scope repeats (the usual case: no copy).
 */
export function mergeRepeatedScopes(metrics: ResourceMetrics): ResourceMetrics {
  const blocks = metrics.scopeMetrics;
  const byScope = new Map<string, ScopeMetrics>();
  let repeated = false;
  for (const block of blocks) {
    const key = scopeKey(block);
    if (byScope.has(key)) repeated = true;
    else byScope.set(key, block);
  }
  if (!repeated) return metrics;
  const merged = new Map<string, ScopeMetrics>();
  for (const block of blocks) {
    const key = scopeKey(block);
    const seen = merged.get(key);
    if (seen === undefined) merged.set(key, { scope: block.scope, metrics: [...block.metrics] });
    else seen.metrics.push(...block.metrics);
  }
  return { resource: metrics.resource, scopeMetrics: [...merged.values()] };
}

function scopeKey(block: ScopeMetrics): string {
  const { name, version, schemaUrl } = block.scope;
  return JSON.stringify([name, version ?? null, schemaUrl ?? null]);
}
