import { metrics, type Attributes, type Counter, type Histogram, type Meter } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_TOKEN_TYPE,
  GEN_AI_DURATION_BUCKETS,
  GEN_AI_TOKEN_BUCKETS,
  GUARDRAIL_DURATION_BUCKETS,
  METRIC_COST,
  METRIC_EVENTS,
  METRIC_GEN_AI_OPERATION_DURATION,
  METRIC_GEN_AI_TOKEN_USAGE,
  METRIC_GUARDRAIL_DURATION,
  METRIC_REQUESTS,
  METRIC_TELEMETRY_ERRORS,
  SEVERITIES,
  CATEGORIES,
  type SecurityEvent,
} from '@llmsec/core';
import { BoundedLabel, oneOf } from './bounded-label.ts';
import { reportTelemetryError, type TelemetryErrorCounter } from './errors.ts';

/**
 * The llmsec metric instruments on one OpenTelemetry Meter. Every label value is either from
 * a fixed set or passes through a BoundedLabel: never a user, session, prompt or other
 * unbounded value (DESIGN.md, Metrics). Recording never throws.
 */

export const REQUEST_OUTCOMES = ['allowed', 'blocked', 'rate_limited', 'error'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];
export const GUARDRAIL_OUTCOMES = ['allow', 'block', 'modify'] as const;
export type GuardrailOutcome = (typeof GUARDRAIL_OUTCOMES)[number];

export interface LlmsecMetricsOptions {
  /** @default metrics.getMeter('@llmsec/sdk') (the global meter provider at construction) */
  meter?: Meter;
  /** Distinct layer / filter / tool names kept before folding into `other`. @default 50 */
  maxLayers?: number;
  /** Distinct model names kept before folding into `other`. @default 50 */
  maxModels?: number;
}

export interface TokenUsageInput {
  tokens: number;
  tokenType: 'input' | 'output';
  operation: string;
  provider: string;
  model: string;
}

export interface OperationDurationInput {
  seconds: number;
  operation: string;
  provider: string;
  model: string;
  /** Error class name when the operation failed (semconv `error.type`). */
  errorType?: string;
}

export class LlmsecMetrics implements TelemetryErrorCounter {
  private readonly events: Counter;
  private readonly requests: Counter;
  private readonly cost: Counter;
  private readonly telemetryErrors: Counter;
  private readonly tokenUsage: Histogram;
  private readonly operationDuration: Histogram;
  private readonly guardrailDuration: Histogram;
  private readonly layers: BoundedLabel;
  private readonly models: BoundedLabel;
  /** Operation, provider, error type and component names: fixed by code, bounded anyway. */
  private readonly smallSets: BoundedLabel;

  constructor(options: LlmsecMetricsOptions = {}) {
    const meter = options.meter ?? metrics.getMeter('@llmsec/sdk');
    this.layers = new BoundedLabel({ maxValues: options.maxLayers ?? 50 });
    this.models = new BoundedLabel({ maxValues: options.maxModels ?? 50 });
    this.smallSets = new BoundedLabel({ maxValues: 100 });
    this.events = meter.createCounter(METRIC_EVENTS, {
      description: 'Security events recorded, by category, severity and guardrail layer / filter / tool',
      unit: '{event}',
    });
    this.requests = meter.createCounter(METRIC_REQUESTS, {
      description: 'LLM requests by outcome and model',
      unit: '{request}',
    });
    this.cost = meter.createCounter(METRIC_COST, { description: 'Estimated LLM cost in US dollars, by model', unit: 'USD' });
    this.telemetryErrors = meter.createCounter(METRIC_TELEMETRY_ERRORS, {
      description: 'Telemetry failures swallowed to protect the application',
      unit: '{error}',
    });
    this.tokenUsage = meter.createHistogram(METRIC_GEN_AI_TOKEN_USAGE, {
      description: 'Number of input and output tokens used (GenAI semantic conventions)',
      unit: '{token}',
      advice: { explicitBucketBoundaries: GEN_AI_TOKEN_BUCKETS },
    });
    this.operationDuration = meter.createHistogram(METRIC_GEN_AI_OPERATION_DURATION, {
      description: 'GenAI operation duration (GenAI semantic conventions)',
      unit: 's',
      advice: { explicitBucketBoundaries: GEN_AI_DURATION_BUCKETS },
    });
    this.guardrailDuration = meter.createHistogram(METRIC_GUARDRAIL_DURATION, {
      description: 'Time spent in guardrails and output filters, by layer and outcome',
      unit: 's',
      advice: { explicitBucketBoundaries: GUARDRAIL_DURATION_BUCKETS },
    });
  }

  /** One security event: `llmsec.events{category, severity, layer?}`. */
  recordEvent(event: SecurityEvent): void {
    try {
      const attrs: Attributes = {
        category: oneOf(CATEGORIES, event.category),
        severity: oneOf(SEVERITIES, event.severity),
      };
      const md = event.metadata;
      const layer = md?.guardrail_layer ?? md?.filter_name ?? md?.tool_name;
      if (layer !== undefined) attrs.layer = this.layers.value(layer);
      this.events.add(1, attrs);
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  /** `llmsec.requests{outcome, model}`; an outcome outside REQUEST_OUTCOMES is `other`. */
  recordRequest(input: { outcome: RequestOutcome | (string & {}); model?: string }): void {
    try {
      this.requests.add(1, { outcome: oneOf(REQUEST_OUTCOMES, input.outcome), model: this.models.value(input.model) });
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  recordTokenUsage(input: TokenUsageInput): void {
    try {
      if (!isCount(input.tokens)) return;
      this.tokenUsage.record(input.tokens, {
        ...this.genAiAttrs(input),
        [ATTR_GEN_AI_TOKEN_TYPE]: oneOf(['input', 'output'], input.tokenType),
      });
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  recordOperationDuration(input: OperationDurationInput): void {
    try {
      if (!isCount(input.seconds)) return;
      const attrs = this.genAiAttrs(input);
      if (input.errorType !== undefined) attrs[ATTR_ERROR_TYPE] = this.smallSets.value(input.errorType);
      this.operationDuration.record(input.seconds, attrs);
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  /** `llmsec.cost.usd{model}`; non-finite or negative amounts are ignored. */
  recordCost(input: { model?: string; usd: number }): void {
    try {
      if (!isCount(input.usd) || input.usd === 0) return;
      this.cost.add(input.usd, { model: this.models.value(input.model) });
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  recordGuardrailDuration(input: { layer: string; outcome: GuardrailOutcome | (string & {}); seconds: number }): void {
    try {
      if (!isCount(input.seconds)) return;
      this.guardrailDuration.record(input.seconds, {
        layer: this.layers.value(input.layer),
        outcome: oneOf(GUARDRAIL_OUTCOMES, input.outcome),
      });
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  /** Called by the error funnel; must not report into the funnel (that would loop). */
  recordTelemetryError(component: string, errorType: string): void {
    try {
      this.telemetryErrors.add(1, {
        component: this.smallSets.value(component),
        error_type: this.smallSets.value(errorType),
      });
    } catch {
      // The funnel already logs; nothing else to do.
    }
  }

  private genAiAttrs(input: { operation: string; provider: string; model: string }): Attributes {
    return {
      [ATTR_GEN_AI_OPERATION_NAME]: this.smallSets.value(input.operation),
      [ATTR_GEN_AI_PROVIDER_NAME]: this.smallSets.value(input.provider),
      [ATTR_GEN_AI_REQUEST_MODEL]: this.models.value(input.model),
    };
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
