import { metrics as otelMetrics, trace, type MeterProvider, type Tracer } from '@opentelemetry/api';
import {
  costMicroUsd,
  costUsd,
  DEFAULT_PRICES,
  knownModel,
  type PriceTable,
  type SecurityEventEmitter,
} from '@llmsec/core';
import { LlmsecMetrics } from '../metrics.ts';
import { SecurityEvents } from '../security-events.ts';
import { setupEvents, withMetrics } from '../setup-events.ts';
import {
  streamLanesHooksOf,
  streamQuotesHooksOf,
  streamRewriterOf,
  type StreamLanesHook,
  type StreamQuotesHook,
  type StreamRewriter,
} from './stream-rewriter.ts';
import { readGuardOptions } from './guard-options.ts';
import type { InputGuard, LimiterLike, LlmInstrumentationOptions, OutputGuard } from './types.ts';

export const INSTRUMENTATION_NAME = '@llmsec/sdk/instrumentation';
export const INSTRUMENTATION_VERSION = '0.1.0';

/**
 * Models whose price-table key is remembered per runtime, and their longest id: model ids come
 * from the provider's responses, so the cache stops growing there (later models are matched
 * on every call, as all were before).
 */
const MAX_PRICED_MODELS = 256;
const MAX_PRICED_MODEL_CHARS = 128;

/**
 * The settled configuration of one instrumentation (or one instrumented client), with the
 * telemetry it writes to. Options are validated here, once, and defaults applied in one place.
 */
export class LlmRuntime {
  readonly inputGuards: readonly InputGuard[];
  readonly outputGuards: readonly OutputGuard[];
  readonly hasChunkGuards: boolean;
  /**
   * Found once here, not per stream (issue 13): the output guards that have a chunk check, in
   * order (what a stream's chunk runner walks per delta), the first guard's stream rewriter and
   * the guards' lane hooks (call-stream.ts).
   */
  readonly chunkGuards: readonly OutputGuard[];
  readonly streamRewriter: StreamRewriter | undefined;
  readonly streamLanesHooks: readonly StreamLanesHook[];
  /** The guards' quote hooks (piiGuard block: a quote is checked before its item is delivered). */
  readonly streamQuotesHooks: ReadonlyArray<{ guard: OutputGuard; hook: StreamQuotesHook }>;
  readonly limiter: LimiterLike | undefined;
  readonly resolveUser: LlmInstrumentationOptions['resolveUser'];
  readonly prices: PriceTable;
  readonly captureContent: boolean;
  readonly captureSystemPrompt: boolean;
  readonly maxContentChars: number;
  readonly suppressAnthropicSpans: boolean;
  /** Disabled runtimes pass calls straight through (InstrumentationBase.disable()). */
  enabled = true;
  private tracerSource: () => Tracer;
  private metricsValue: LlmsecMetrics | undefined;
  private eventsValue: SecurityEventEmitter | undefined;
  /** Without an emitter or a setupLlmsec: on the global providers. */
  private globalEvents: SecurityEvents | undefined;
  private globalMetrics: LlmsecMetrics | undefined;
  private globalMetricsProvider: MeterProvider | undefined;
  private readonly metricsOption: LlmsecMetrics | undefined;
  /** The client set its own `prices`: its metrics label models by them, not by the setup's table. */
  private readonly ownPrices: boolean;
  /** The running setup's SecurityEvents recording into this runtime's own metrics, and that setup. */
  private setupWithOwnMetrics: { setup: SecurityEvents; events: SecurityEvents } | undefined;
  /**
   * Model id -> its price-table key (null: not priced), for a frozen table only (the default
   * one is): matching a dated id such as `gpt-4o-mini-2024-07-18` walks the table's keys,
   * ~1.4-1.9 us per lookup, on every call. A table the application may still change is
   * matched on every call.
   */
  private readonly priceKeys: Map<string, string | null> | undefined;

  constructor(options: LlmInstrumentationOptions & { metrics?: LlmsecMetrics; tracer?: () => Tracer } = {}) {
    const guards = readGuardOptions(options.guards);
    this.inputGuards = guards.input;
    this.outputGuards = guards.output;
    this.chunkGuards = this.outputGuards.filter((g) => typeof g.checkChunk === 'function');
    this.hasChunkGuards = this.chunkGuards.length > 0;
    this.streamRewriter = streamRewriterOf(this.outputGuards);
    this.streamLanesHooks = streamLanesHooksOf(this.outputGuards);
    this.streamQuotesHooks = streamQuotesHooksOf(this.outputGuards);
    if (options.limiter !== undefined) {
      const l = options.limiter;
      if (
        typeof l.acquire !== 'function' ||
        typeof l.settle !== 'function' ||
        typeof l.cancel !== 'function'
      ) {
        throw new TypeError('llmsec instrumentation: limiter needs acquire(), settle() and cancel()');
      }
    }
    this.limiter = options.limiter;
    this.resolveUser = options.resolveUser;
    this.prices = options.prices ?? DEFAULT_PRICES;
    this.ownPrices = options.prices !== undefined;
    this.priceKeys = Object.isFrozen(this.prices) ? new Map() : undefined;
    this.captureContent =
      options.captureContent ??
      process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.toLowerCase() === 'true';
    this.captureSystemPrompt = options.captureSystemPrompt ?? false;
    this.maxContentChars = options.maxContentChars ?? 500;
    if (!Number.isInteger(this.maxContentChars) || this.maxContentChars < 1) {
      throw new TypeError(
        `llmsec instrumentation: maxContentChars must be a positive integer, got ${String(options.maxContentChars)}`,
      );
    }
    this.suppressAnthropicSpans = (options.anthropicBuiltInSpans ?? 'suppress') === 'suppress';
    const provider = options.tracerProvider;
    // One tracer, fetched once: the global one is a proxy that follows a provider set later.
    let cached: Tracer | undefined;
    this.tracerSource =
      options.tracer ??
      (() =>
        (cached ??= (provider ?? trace.getTracerProvider()).getTracer(
          INSTRUMENTATION_NAME,
          INSTRUMENTATION_VERSION,
        )));
    this.metricsOption =
      options.metrics ??
      (options.meterProvider !== undefined
        ? new LlmsecMetrics({
            meter: options.meterProvider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION),
            knownModels: this.prices,
          })
        : undefined);
    this.eventsValue = options.events;
  }

  /** USD for the tokens of `model` by the configured prices; undefined for an unknown model. */
  cost(model: string, inputTokens: number, outputTokens: number): number | undefined {
    const key = this.pricedAs(model);
    return key === null ? undefined : costUsd(key, inputTokens, outputTokens, this.prices);
  }

  /** Integer micro-USD, rounded up (core's costMicroUsd); undefined for an unknown model. */
  costMicro(model: string, inputTokens: number, outputTokens: number): number | undefined {
    const key = this.pricedAs(model);
    return key === null ? undefined : costMicroUsd(key, inputTokens, outputTokens, this.prices);
  }

  /**
   * What to price `model` as: its table key from the cache (null: not in the table), or the id
   * itself where nothing is cached (core matches it then). A table key prices as itself, so
   * both give core's answer for the id.
   */
  private pricedAs(model: string): string | null {
    const cache = this.priceKeys;
    if (cache === undefined || typeof model !== 'string' || model.length > MAX_PRICED_MODEL_CHARS)
      return model;
    let key = cache.get(model);
    if (key === undefined) {
      key = knownModel(model, this.prices) ?? null;
      if (cache.size < MAX_PRICED_MODELS) cache.set(model, key);
    }
    return key;
  }

  get needsInputPhase(): boolean {
    return this.inputGuards.length > 0 || this.limiter !== undefined;
  }

  get tracer(): Tracer {
    return this.tracerSource();
  }

  setTracer(source: () => Tracer): void {
    this.tracerSource = source;
  }

  /**
   * Metric instruments: the given ones, else the events' (one set per meter), else the running
   * setupLlmsec's (unless the client has its own `prices`: the setup's label models by the
   * default table), else the global meter's, labelled by this runtime's prices.
   */
  get metrics(): LlmsecMetrics {
    if (this.metricsValue !== undefined) return this.metricsValue;
    const own =
      this.metricsOption ??
      (this.eventsValue instanceof SecurityEvents ? this.eventsValue.metrics : undefined);
    if (own !== undefined) return (this.metricsValue = own);
    // Not kept: the client follows the setup that runs at each call (one may start after it).
    const setup = this.ownPrices ? undefined : setupEvents();
    if (setup !== undefined) return setup.metrics;
    // Made again when the global meter provider changed (a setup installed one after the first
    // call): instruments on the provider of the first call would stay on it, a no-op one say.
    const provider = otelMetrics.getMeterProvider();
    if (this.globalMetrics === undefined || this.globalMetricsProvider !== provider) {
      this.globalMetrics = new LlmsecMetrics({ knownModels: this.prices });
      this.globalMetricsProvider = provider;
    }
    return this.globalMetrics;
  }

  /** Metrics of the client's own (a meterProvider, instruments given, or prices), not the setup's. */
  private get ownsMetrics(): boolean {
    return this.metricsValue !== undefined || this.metricsOption !== undefined || this.ownPrices;
  }

  setMetrics(metrics: LlmsecMetrics): void {
    this.metricsValue = metrics;
  }

  /**
   * The event emitter: the given one, else the running setupLlmsec's (its JSONL, onEvent and
   * detection see the call's events), else a SecurityEvents on the global providers (created on
   * first use). A client with metrics of its own (`meterProvider`, `prices`) records through
   * the setup's SecurityEvents with its own metrics in place of the setup's, so its
   * llmsec_requests_total / llmsec_cost_usd_total keep its model labels and its provider, as
   * before the setup became the default.
   */
  get events(): SecurityEventEmitter {
    if (this.eventsValue !== undefined) return this.eventsValue;
    const setup = setupEvents();
    if (setup === undefined) {
      const metrics = this.metrics;
      if (this.globalEvents?.metrics !== metrics) this.globalEvents = new SecurityEvents({ metrics });
      return this.globalEvents;
    }
    if (!this.ownsMetrics) return setup;
    const metrics = this.metrics;
    const kept = this.setupWithOwnMetrics;
    if (kept !== undefined && kept.setup === setup && kept.events.metrics === metrics) return kept.events;
    const events = withMetrics(setup, metrics);
    this.setupWithOwnMetrics = { setup, events };
    return events;
  }

  setEvents(events: SecurityEventEmitter): void {
    this.eventsValue = events;
  }
}
