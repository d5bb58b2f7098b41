/**
 * The A side of `--ab`: LlmsecMetrics as it recorded its three per-call counters before issue
 * 13 (the SDK's synchronous Counter.add with a cached, frozen attribute set, which the SDK
 * hashes on every add), for llmsec.events, llmsec.requests and llmsec.cost.usd. The B side is
 * the current LlmsecMetrics (local-counter.ts). Same labels; bench-only.
 */
import type { Attributes, Counter, Meter } from '@opentelemetry/api';
import { METRIC_COST, METRIC_EVENTS, METRIC_REQUESTS, type SecurityEvent } from '@llmsec/core';
import { AttributeCache } from '../../packages/sdk/src/attribute-cache.ts';
import { LlmsecMetrics } from '../../packages/sdk/src/metrics.ts';

export class SdkCounterMetrics extends LlmsecMetrics {
  private readonly eventsCounter: Counter;
  private readonly requestsCounter: Counter;
  private readonly costCounter: Counter;
  private readonly beforeEventSets = new AttributeCache(512);
  private readonly beforeRequestSets = new AttributeCache(512);
  private readonly beforeCostSets = new AttributeCache(512);

  constructor(meter: Meter) {
    super({ meter });
    this.eventsCounter = meter.createCounter(`${METRIC_EVENTS}.before`);
    this.requestsCounter = meter.createCounter(`${METRIC_REQUESTS}.before`);
    this.costCounter = meter.createCounter(`${METRIC_COST}.before`);
  }

  override recordEvent(event: SecurityEvent): void {
    const md = event.metadata;
    const raw = md?.guardrail_layer ?? md?.filter_name ?? md?.tool_name;
    const layer = raw === undefined ? undefined : String(raw);
    let attrs = this.beforeEventSets.get(event.category, event.severity, layer, undefined);
    if (attrs === undefined) {
      const built: Attributes = { category: event.category, severity: event.severity };
      if (layer !== undefined) built.layer = layer;
      attrs = this.beforeEventSets.set(event.category, event.severity, layer, undefined, built);
    }
    this.eventsCounter.add(1, attrs);
  }

  override recordRequest(input: { outcome: string; model?: string }): void {
    let attrs = this.beforeRequestSets.get(input.outcome, input.model, undefined, undefined);
    attrs ??= this.beforeRequestSets.set(input.outcome, input.model, undefined, undefined, {
      outcome: input.outcome,
      model: input.model ?? 'unknown',
    });
    this.requestsCounter.add(1, attrs);
  }

  override recordCost(input: { model?: string; usd: number }): void {
    if (!(input.usd > 0)) return;
    let attrs = this.beforeCostSets.get(input.model, undefined, undefined, undefined);
    attrs ??= this.beforeCostSets.set(input.model, undefined, undefined, undefined, {
      model: input.model ?? 'unknown',
    });
    this.costCounter.add(input.usd, attrs);
  }
}
