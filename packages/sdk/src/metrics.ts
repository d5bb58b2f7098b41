import {
  metrics,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type MetricOptions,
} from '@opentelemetry/api';
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
  type PriceTable,
} from '@llmsec/core';
import { AttributeCache, isKey } from './attribute-cache.ts';
import { LocalCounter } from './local-counter.ts';
import { LocalHistograms } from './local-histograms.ts';
import { BoundedLabel, oneOf } from './bounded-label.ts';
import { ModelLabel } from './model-label.ts';
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
  /** Distinct layer / filter names kept before folding into `other`. @default 50 */
  maxLayers?: number;
  /** @deprecated Ignored: model labels are the price table's models (`knownModels`), not the first N seen. */
  maxModels?: number;
  /**
   * The models that get their own `model` label (a dated id maps to its table key); every other
   * name is `other`. Pass the price table the instrumentation uses. @default core's DEFAULT_PRICES
   */
  knownModels?: PriceTable;
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

/** Distinct attribute sets cached per instrument (past it, sets are built per call). */
const MAX_CACHED_SETS = 512;

export class LlmsecMetrics implements TelemetryErrorCounter {
  // Recorded on every LLM call: summed in process, read by the SDK at collection (local-counter.ts).
  private readonly events: LocalCounter;
  private readonly requests: LocalCounter;
  private readonly cost: LocalCounter;
  private readonly telemetryErrors: Counter;
  // Aggregated in process where setupLlmsec built the readers (local-histograms.ts), else the SDK's.
  private readonly tokenUsage: HistogramSink;
  private readonly operationDuration: HistogramSink;
  private readonly guardrailDuration: HistogramSink;
  private readonly layers: BoundedLabel;
  private readonly models: ModelLabel;
  /** Operation, provider, error type and component names: fixed by code, bounded anyway. */
  private readonly smallSets: BoundedLabel;
  private readonly eventSets = new AttributeCache(MAX_CACHED_SETS);
  private readonly requestSets = new AttributeCache(MAX_CACHED_SETS);
  private readonly costSets = new AttributeCache(MAX_CACHED_SETS);
  private readonly tokenSets = new AttributeCache(MAX_CACHED_SETS);
  private readonly durationSets = new AttributeCache(MAX_CACHED_SETS);
  private readonly guardSets = new AttributeCache(MAX_CACHED_SETS);
  /**
   * The guard-duration sets AttributeCache keeps, again by layer, then by outcome (allow, block,
   * modify): one map lookup a record instead of four (issue 13). A call makes six records, one
   * per layer in turn, so the cache's one-set memo never hits. Filled only with sets guardSets
   * holds, so it keeps what that keeps (bounded by it) and every record of a pair gets one object.
   */
  private readonly guardSetsByLayer = new Map<string, Array<Attributes | undefined>>();

  constructor(options: LlmsecMetricsOptions = {}) {
    const meter = options.meter ?? metrics.getMeter('@llmsec/sdk');
    this.layers = new BoundedLabel({ maxValues: options.maxLayers ?? 50 });
    this.models = new ModelLabel(options.knownModels);
    this.smallSets = new BoundedLabel({ maxValues: 100 });
    this.events = LocalCounter.on(meter, METRIC_EVENTS, {
      description: 'Security events recorded, by category, severity and guardrail layer / filter',
      unit: '{event}',
    });
    this.requests = LocalCounter.on(meter, METRIC_REQUESTS, {
      description: 'LLM requests by outcome and model',
      unit: '{request}',
    });
    this.cost = LocalCounter.on(meter, METRIC_COST, {
      description: 'Estimated LLM cost in US dollars, by model',
      unit: 'USD',
    });
    this.telemetryErrors = meter.createCounter(METRIC_TELEMETRY_ERRORS, {
      description: 'Telemetry failures swallowed to protect the application',
      unit: '{error}',
    });
    this.tokenUsage = histogram(meter, METRIC_GEN_AI_TOKEN_USAGE, {
      description: 'Number of input and output tokens used (GenAI semantic conventions)',
      unit: '{token}',
      advice: { explicitBucketBoundaries: GEN_AI_TOKEN_BUCKETS },
    });
    this.operationDuration = histogram(meter, METRIC_GEN_AI_OPERATION_DURATION, {
      description: 'GenAI operation duration (GenAI semantic conventions)',
      unit: 's',
      advice: { explicitBucketBoundaries: GEN_AI_DURATION_BUCKETS },
    });
    this.guardrailDuration = histogram(meter, METRIC_GUARDRAIL_DURATION, {
      description: 'Time spent in guardrails and output filters, by layer and outcome',
      unit: 's',
      advice: { explicitBucketBoundaries: GUARDRAIL_DURATION_BUCKETS },
    });
  }

  /** One security event: `llmsec.events{category, severity, layer?}`. */
  recordEvent(event: SecurityEvent): void {
    try {
      const md = event.metadata;
      // Never tool_name: a tool_abuse_attempt names a tool the client declared or the model
      // called, i.e. text the client chooses. As a label it would be the client's text, and 50
      // invented names would fill the cap, folding every layer seen later into `other`.
      const layer = md?.guardrail_layer ?? md?.filter_name;
      const { category, severity } = event;
      const cacheable = isStr(category) && isStr(severity) && isKey(layer);
      let attrs = cacheable ? this.eventSets.get(category, severity, layer, undefined) : undefined;
      if (attrs === undefined) {
        const built: Attributes = {
          category: oneOf(CATEGORIES, category),
          severity: oneOf(SEVERITIES, severity),
        };
        if (layer !== undefined) built.layer = this.layers.value(layer);
        attrs = cacheable ? this.eventSets.set(category, severity, layer, undefined, built) : built;
      }
      this.events.add(1, attrs);
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  /** `llmsec.requests{outcome, model}`; an outcome outside REQUEST_OUTCOMES is `other`. */
  recordRequest(input: { outcome: RequestOutcome | (string & {}); model?: string }): void {
    try {
      const { outcome, model } = input;
      const cacheable = isStr(outcome) && isKey(model);
      let attrs = cacheable ? this.requestSets.get(outcome, model, undefined, undefined) : undefined;
      if (attrs === undefined) {
        const built: Attributes = {
          outcome: oneOf(REQUEST_OUTCOMES, outcome),
          model: this.models.value(model),
        };
        attrs = cacheable ? this.requestSets.set(outcome, model, undefined, undefined, built) : built;
      }
      this.requests.add(1, attrs);
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  recordTokenUsage(input: TokenUsageInput): void {
    try {
      if (!isCount(input.tokens)) return;
      const { operation, provider, model, tokenType } = input;
      const cacheable = isStr(operation) && isStr(provider) && isStr(model) && isStr(tokenType);
      let attrs = cacheable ? this.tokenSets.get(operation, provider, model, tokenType) : undefined;
      if (attrs === undefined) {
        const built = this.genAiAttrs(input);
        built[ATTR_GEN_AI_TOKEN_TYPE] = oneOf(['input', 'output'], tokenType);
        attrs = cacheable ? this.tokenSets.set(operation, provider, model, tokenType, built) : built;
      }
      this.tokenUsage.record(input.tokens, attrs);
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  recordOperationDuration(input: OperationDurationInput): void {
    try {
      if (!isCount(input.seconds)) return;
      const { operation, provider, model, errorType } = input;
      const cacheable = isStr(operation) && isStr(provider) && isStr(model) && isKey(errorType);
      let attrs = cacheable ? this.durationSets.get(operation, provider, model, errorType) : undefined;
      if (attrs === undefined) {
        const built = this.genAiAttrs(input);
        if (errorType !== undefined) built[ATTR_ERROR_TYPE] = this.smallSets.value(errorType);
        attrs = cacheable ? this.durationSets.set(operation, provider, model, errorType, built) : built;
      }
      this.operationDuration.record(input.seconds, attrs);
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  /** `llmsec.cost.usd{model}`; non-finite or negative amounts are ignored. */
  recordCost(input: { model?: string; usd: number }): void {
    try {
      if (!isCount(input.usd) || input.usd === 0) return;
      const { model } = input;
      const cacheable = isKey(model);
      let attrs = cacheable ? this.costSets.get(model, undefined, undefined, undefined) : undefined;
      if (attrs === undefined) {
        const built: Attributes = { model: this.models.value(model) };
        attrs = cacheable ? this.costSets.set(model, undefined, undefined, undefined, built) : built;
      }
      this.cost.add(input.usd, attrs);
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  recordGuardrailDuration(input: {
    layer: string;
    outcome: GuardrailOutcome | (string & {});
    seconds: number;
  }): void {
    try {
      if (!isCount(input.seconds)) return;
      const { layer, outcome } = input;
      const slot = isStr(layer) ? GUARDRAIL_OUTCOMES.indexOf(outcome as GuardrailOutcome) : -1;
      const row = slot >= 0 ? this.guardSetsByLayer.get(layer) : undefined;
      let attrs = row?.[slot];
      if (attrs === undefined) {
        attrs = this.guardSet(layer, outcome);
        if (slot >= 0 && this.guardSets.get(layer, outcome, undefined, undefined) === attrs) {
          const kept = row ?? [undefined, undefined, undefined];
          kept[slot] = attrs;
          if (row === undefined) this.guardSetsByLayer.set(layer, kept);
        }
      }
      this.guardrailDuration.record(input.seconds, attrs);
    } catch (err) {
      reportTelemetryError('metrics', err);
    }
  }

  /** The attribute set of a guard-duration record, through guardSets (built and kept when new). */
  private guardSet(layer: string, outcome: string): Attributes {
    const cacheable = isStr(layer) && isStr(outcome);
    const found = cacheable ? this.guardSets.get(layer, outcome, undefined, undefined) : undefined;
    if (found !== undefined) return found;
    const built: Attributes = {
      layer: this.layers.value(layer),
      outcome: oneOf(GUARDRAIL_OUTCOMES, outcome),
    };
    return cacheable ? this.guardSets.set(layer, outcome, undefined, undefined, built) : built;
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

/** What the records need of a histogram: the SDK's Histogram or a LocalHistogram. */
type HistogramSink = Pick<Histogram, 'record'>;

function histogram(
  meter: Meter,
  name: string,
  options: MetricOptions & { advice: NonNullable<MetricOptions['advice']> },
): HistogramSink {
  return LocalHistograms.on(meter, name, options) ?? meter.createHistogram(name, options);
}

function isStr(value: unknown): value is string {
  return typeof value === 'string';
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
