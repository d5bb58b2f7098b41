import { diag } from '@opentelemetry/api';
import type { ProviderAdapter } from './adapter.ts';
import { anthropicBetaMessagesAdapter, anthropicMessagesAdapter } from './anthropic-messages.ts';
import { openaiChatAdapter } from './openai-chat.ts';
import { openaiCompletionsAdapter } from './openai-completions.ts';
import { openaiEmbeddingsAdapter } from './openai-embeddings.ts';
import { openaiBetaResponsesAdapter, openaiResponsesAdapter } from './openai-responses.ts';
import { suppressBuiltInSpans, wrapCreate } from './patch.ts';
import { LlmRuntime } from './runtime.ts';
import type { LlmInstrumentationOptions } from './types.ts';

/**
 * Instruments one client instance, for bundled apps or wherever no module hook can run:
 * `instrumentClient(new OpenAI())` or `instrumentClient(new Anthropic())`. The methods are
 * wrapped on the client's own resource objects (own properties), so other clients and the
 * classes are untouched. Returns the same client.
 */
export function instrumentClient<T extends object>(client: T, options: LlmInstrumentationOptions = {}): T {
  const runtime = new LlmRuntime(options);
  return instrumentClientWith(client, () => runtime);
}

/** instrumentClient with a runtime supplied by the caller (LlmClientInstrumentation.instrumentClient). */
export function instrumentClientWith<T extends object>(
  client: T,
  getRuntime: () => LlmRuntime | undefined,
): T {
  const targets = methodsOf(client);
  if (targets.length === 0) {
    throw new TypeError(
      'instrumentClient: not an OpenAI (7.x) or Anthropic (1.x) client: no chat.completions / responses / embeddings / messages',
    );
  }
  if (instrumented.has(client)) {
    diag.warn('instrumentClient: this client is already instrumented; leaving it as it is');
    return client;
  }
  instrumented.add(client);
  for (const { owner, adapter } of targets) {
    const original = owner.create as (this: unknown, ...args: unknown[]) => unknown;
    Object.defineProperty(owner, 'create', {
      configurable: true,
      writable: true,
      enumerable: false,
      value: wrapCreate(getRuntime, adapter, original),
    });
  }
  wrapWithOptions(client, getRuntime);
  // The Anthropic SDK's helpers start spans of their own before any create (the beta tool
  // runner's `anthropic.messages.tool_runner`), which the first call's suppression came too
  // late for: turned off here, once the client is known to be Anthropic's.
  if (targets.some((t) => t.adapter.provider === 'anthropic')) {
    try {
      if (getRuntime()?.suppressAnthropicSpans === true) suppressBuiltInSpans(client);
    } catch (err) {
      diag.warn(`instrumentClient: could not turn off the client's built-in spans: ${String(err)}`);
    }
  }
  return client;
}

const instrumented = new WeakSet<object>();

/**
 * `client.withOptions({...})` returns a new client of the same class with resource objects of
 * its own, which the wraps above are not on: every call on the copy went out unobserved and
 * unguarded. The copy is instrumented with the same runtime; if that fails, the copy is
 * returned as it is (never break the host app). The library's own errors pass unchanged.
 */
function wrapWithOptions(client: object, getRuntime: () => LlmRuntime | undefined): void {
  const original = (client as { withOptions?: unknown }).withOptions;
  if (typeof original !== 'function') return;
  Object.defineProperty(client, 'withOptions', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function llmsecWithOptions(this: unknown, ...args: unknown[]): unknown {
      const copy: unknown = (original as (...a: unknown[]) => unknown).apply(this, args);
      try {
        if (typeof copy === 'object' && copy !== null && copy !== client)
          instrumentClientWith(copy, getRuntime);
      } catch (err) {
        diag.warn(`instrumentClient: could not instrument a withOptions() copy: ${String(err)}`);
      }
      return copy;
    },
  });
}

function resource(parent: unknown, key: string): { create: unknown } | undefined {
  const r = (parent as Record<string, unknown> | undefined)?.[key];
  return typeof r === 'object' && r !== null && typeof (r as { create?: unknown }).create === 'function'
    ? (r as { create: unknown })
    : undefined;
}

function methodsOf(client: object): Array<{ owner: { create: unknown }; adapter: ProviderAdapter }> {
  const out: Array<{ owner: { create: unknown }; adapter: ProviderAdapter }> = [];
  const chat = resource((client as { chat?: unknown }).chat, 'completions');
  if (chat !== undefined) out.push({ owner: chat, adapter: openaiChatAdapter });
  const responses = resource(client, 'responses');
  if (responses !== undefined) out.push({ owner: responses, adapter: openaiResponsesAdapter });
  // Legacy text completions: only on a client that has chat (an OpenAI client).
  const completions = chat !== undefined ? resource(client, 'completions') : undefined;
  if (completions !== undefined) out.push({ owner: completions, adapter: openaiCompletionsAdapter });
  const embeddings = resource(client, 'embeddings');
  if (embeddings !== undefined) out.push({ owner: embeddings, adapter: openaiEmbeddingsAdapter });
  // An OpenAI client has no `messages`; an Anthropic client has no `chat`.
  const messages = chat === undefined ? resource(client, 'messages') : undefined;
  if (messages !== undefined) out.push({ owner: messages, adapter: anthropicMessagesAdapter });
  // The beta namespaces have their own `create`, which the plain one does not reach: unwrapped,
  // a call there passed no guard at all. A client without them (openai 6 has no
  // beta.responses) or of another shape keeps its other methods instrumented.
  const beta = betaOf(client);
  const betaMessages = chat === undefined ? resource(beta, 'messages') : undefined;
  if (betaMessages !== undefined) out.push({ owner: betaMessages, adapter: anthropicBetaMessagesAdapter });
  const betaResponses = chat !== undefined ? resource(beta, 'responses') : undefined;
  if (betaResponses !== undefined) out.push({ owner: betaResponses, adapter: openaiBetaResponsesAdapter });
  return out;
}

/** The client's `beta` resource, if reading it works (a getter of another version may throw). */
function betaOf(client: object): unknown {
  try {
    return (client as { beta?: unknown }).beta;
  } catch {
    return undefined;
  }
}
