import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  isWrapped,
  type InstrumentationConfig,
} from '@opentelemetry/instrumentation';
import type { SecurityEventEmitter } from '@llmsec/core';
import { LlmsecMetrics } from '../metrics.ts';
import { SecurityEvents } from '../security-events.ts';
import { withMetrics } from '../setup-events.ts';
import type { ProviderAdapter } from './adapter.ts';
import { anthropicBetaMessagesAdapter, anthropicMessagesAdapter } from './anthropic-messages.ts';
import { openaiChatAdapter } from './openai-chat.ts';
import { openaiCompletionsAdapter } from './openai-completions.ts';
import { openaiEmbeddingsAdapter } from './openai-embeddings.ts';
import { openaiBetaResponsesAdapter, openaiResponsesAdapter } from './openai-responses.ts';
import { instrumentClientWith } from './instrument-client.ts';
import { wrapCreate } from './patch.ts';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, LlmRuntime } from './runtime.ts';
import type { LlmInstrumentationOptions } from './types.ts';

export type LlmClientInstrumentationConfig = InstrumentationConfig &
  Omit<LlmInstrumentationOptions, 'tracerProvider' | 'meterProvider'>;

type Proto = { create: (this: unknown, ...args: unknown[]) => unknown };
interface Target {
  proto: Proto;
  adapter: ProviderAdapter;
}

/**
 * Auto-instrumentation of `openai` 7.x and `@anthropic-ai/sdk` 1.x through the OpenTelemetry
 * module hooks: `require` (CommonJS) out of the box, `import` (ESM) when the process was started
 * with `--import @llmsec/sdk/hook` (or any file that registers
 * `@opentelemetry/instrumentation/hook.mjs`). The resource classes' `create` methods are wrapped
 * on their prototypes, reached from the client class (`OpenAI.Chat.Completions`, ...).
 *
 * The base class calls init() and _updateMetricInstruments() from its constructor, before
 * subclass fields would be initialised, so state here is `declare`d and created lazily.
 */
export class LlmClientInstrumentation extends InstrumentationBase<LlmClientInstrumentationConfig> {
  declare private llmRuntime: LlmRuntime | undefined;
  declare private llmMetrics: LlmsecMetrics | undefined;
  declare private injectedEvents: SecurityEventEmitter | undefined;

  constructor(config: LlmClientInstrumentationConfig = {}) {
    super(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, config);
    // Validate the guard / limiter options now (constructing the runtime throws on bad config).
    this.runtime();
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        'openai',
        ['>=7 <8'],
        (exports: unknown) => this.patchAll(openaiTargets(exports)),
        (exports: unknown) => this.unpatchAll(openaiTargets(exports)),
      ),
      new InstrumentationNodeModuleDefinition(
        '@anthropic-ai/sdk',
        ['>=1 <2'],
        (exports: unknown) => this.patchAll(anthropicTargets(exports)),
        (exports: unknown) => this.unpatchAll(anthropicTargets(exports)),
      ),
    ];
  }

  override setConfig(config: LlmClientInstrumentationConfig = {}): void {
    // The runtime is built before the config is taken, so a bad option (guards, limiter,
    // maxContentChars) throws here and the config before it stays. Built on the next call, as
    // before, it threw that TypeError from every instrumented call of the application.
    const runtime = new LlmRuntime({ ...config, tracer: () => this.tracer });
    super.setConfig(config);
    this.llmRuntime = undefined;
    // The metrics label models by the config's prices: made again for new ones (the base
    // constructor calls this before it makes the first ones).
    if (this.llmMetrics !== undefined) this._updateMetricInstruments();
    this.llmRuntime = this.wired(runtime);
  }

  /** Where security events go; setupLlmsec calls it with its `events` unless the config has some. */
  setEvents(events: SecurityEventEmitter): void {
    this.injectedEvents = events;
    this.runtime().setEvents(this.withOwnMetrics(events));
  }

  /**
   * The setup's events, with this instrumentation's metrics in place of the setup's when the
   * config has its own prices: the setup's label models by the default table, so its
   * llmsec_requests_total / llmsec_cost_usd_total said model="other" for a priced custom model
   * while the GenAI metrics named it (instrumentClient's runtime does the same, runtime.ts).
   */
  private withOwnMetrics(events: SecurityEventEmitter): SecurityEventEmitter {
    return this.getConfig().prices !== undefined &&
      events instanceof SecurityEvents &&
      this.llmMetrics !== undefined
      ? withMetrics(events, this.llmMetrics)
      : events;
  }

  /**
   * Instruments one client instance with this instrumentation's configuration and providers:
   * for bundled apps (no module hook) that still use setupLlmsec({ instrumentations }).
   */
  instrumentClient<T extends object>(client: T): T {
    return instrumentClientWith(client, () => (this.isEnabled() ? this.runtime() : undefined));
  }

  /** True when the config named its own event emitter. */
  hasOwnEvents(): boolean {
    return this.getConfig().events !== undefined;
  }

  protected override _updateMetricInstruments(): void {
    // With the config's prices, as instrumentClient's runtime: else a priced custom model is 'other'.
    this.llmMetrics = new LlmsecMetrics({ meter: this.meter, knownModels: this.getConfig().prices });
    this.llmRuntime?.setMetrics(this.llmMetrics);
    if (this.injectedEvents !== undefined && this.getConfig().events === undefined)
      this.llmRuntime?.setEvents(this.withOwnMetrics(this.injectedEvents));
  }

  private runtime(): LlmRuntime {
    return (this.llmRuntime ??= this.wired(
      new LlmRuntime({ ...this.getConfig(), tracer: () => this.tracer }),
    ));
  }

  /** A runtime of the current config given this instrumentation's metrics and the setup's events. */
  private wired(runtime: LlmRuntime): LlmRuntime {
    if (this.llmMetrics !== undefined) runtime.setMetrics(this.llmMetrics);
    if (this.injectedEvents !== undefined && this.getConfig().events === undefined)
      runtime.setEvents(this.withOwnMetrics(this.injectedEvents));
    return runtime;
  }

  private patchAll<T>(targets: { exports: T; list: Target[] }): T {
    for (const { proto, adapter } of targets.list) {
      if (isWrapped(proto.create)) this._unwrap(proto, 'create');
      this._wrap(
        proto,
        'create',
        (original) =>
          wrapCreate(
            () => (this.isEnabled() ? this.runtime() : undefined),
            adapter,
            original,
          ) as Proto['create'],
      );
    }
    return targets.exports;
  }

  private unpatchAll(targets: { list: Target[] }): void {
    for (const { proto } of targets.list) {
      if (isWrapped(proto.create)) this._unwrap(proto, 'create');
    }
  }
}

function protoOf(cls: unknown): Proto | undefined {
  const proto = (cls as { prototype?: unknown } | undefined)?.prototype;
  return typeof proto === 'object' &&
    proto !== null &&
    typeof (proto as { create?: unknown }).create === 'function'
    ? (proto as Proto)
    : undefined;
}

function clientClass(exports: unknown, name: string): Record<string, unknown> | undefined {
  const e = exports as Record<string, unknown> | undefined;
  const cls = e?.[name] ?? (e?.default as Record<string, unknown> | undefined)?.[name] ?? e?.default;
  return typeof cls === 'function' ? (cls as unknown as Record<string, unknown>) : undefined;
}

function openaiTargets<T>(exports: T): { exports: T; list: Target[] } {
  const OpenAI = clientClass(exports, 'OpenAI');
  const list: Target[] = [];
  const chat = protoOf((OpenAI?.Chat as Record<string, unknown> | undefined)?.Completions);
  if (chat) list.push({ proto: chat, adapter: openaiChatAdapter });
  const responses = protoOf(OpenAI?.Responses);
  if (responses) list.push({ proto: responses, adapter: openaiResponsesAdapter });
  const completions = protoOf(OpenAI?.Completions);
  if (completions && completions !== chat)
    list.push({ proto: completions, adapter: openaiCompletionsAdapter });
  const embeddings = protoOf(OpenAI?.Embeddings);
  if (embeddings) list.push({ proto: embeddings, adapter: openaiEmbeddingsAdapter });
  // beta.responses.create posts to /responses?beta=true without calling responses.create.
  const betaResponses = protoOf((OpenAI?.Beta as Record<string, unknown> | undefined)?.Responses);
  if (betaResponses && betaResponses !== responses)
    list.push({ proto: betaResponses, adapter: openaiBetaResponsesAdapter });
  return { exports, list };
}

function anthropicTargets<T>(exports: T): { exports: T; list: Target[] } {
  const Anthropic = clientClass(exports, 'Anthropic');
  const list: Target[] = [];
  const messages = protoOf(Anthropic?.Messages);
  if (messages) list.push({ proto: messages, adapter: anthropicMessagesAdapter });
  // beta.messages (and its stream, parse, toolRunner and threads) posts without calling messages.create.
  const betaMessages = protoOf((Anthropic?.Beta as Record<string, unknown> | undefined)?.Messages);
  if (betaMessages && betaMessages !== messages)
    list.push({ proto: betaMessages, adapter: anthropicBetaMessagesAdapter });
  return { exports, list };
}
